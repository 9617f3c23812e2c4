//! Which files to read and how: format, label column, categorical columns.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Layout of raw input files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum RawFormat {
    /// Tab-separated, with a header line.
    Tsv,
    /// Comma-separated, with a header line (RFC 4180 quoting).
    Csv,
    /// Criteo text: label, 13 integers, 26 hexadecimal ids, tab-separated, no header.
    Criteo,
    /// TorchRec's preprocessed Criteo arrays: `day_N_sparse.npy`, `_dense.npy`, `_labels.npy`.
    Npy,
    /// A Parquet table (NVTabular's output).
    Parquet,
}

impl RawFormat {
    /// The format a file's name implies: `.csv` → csv, `.npy` → npy, `.parquet` → parquet,
    /// else tsv (a `.gz`/`.zst` suffix is looked through).
    pub fn for_path(path: &Path) -> RawFormat {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = Compression::for_path(path).strip(&name);
        if !path.exists() && crate::columnar::npy::CriteoNpyDay::paths(path)[0].exists() {
            return RawFormat::Npy; // a TorchRec day prefix such as data/day_0
        }
        // `name` is lower-cased above, so these comparisons ignore case.
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("csv") => RawFormat::Csv,
            Some("npy") => RawFormat::Npy,
            Some("parquet" | "parq") => RawFormat::Parquet,
            _ => RawFormat::Tsv,
        }
    }

    /// Every format, in the order help lists them.
    pub const ALL: [RawFormat; 5] = [
        RawFormat::Tsv,
        RawFormat::Csv,
        RawFormat::Criteo,
        RawFormat::Npy,
        RawFormat::Parquet,
    ];

    /// The format of a name on the command line (case ignored).
    pub fn parse(name: &str) -> anyhow::Result<RawFormat> {
        let lower = name.trim().to_ascii_lowercase();
        RawFormat::ALL
            .into_iter()
            .find(|f| f.name() == lower)
            .ok_or_else(|| {
                let names = RawFormat::ALL.map(RawFormat::name);
                let hint = crate::source::did_you_mean(&lower, names);
                anyhow::anyhow!(
                    "unknown data format '{name}'{hint}: expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RawFormat::Tsv => "tsv",
            RawFormat::Csv => "csv",
            RawFormat::Criteo => "criteo",
            RawFormat::Npy => "npy",
            RawFormat::Parquet => "parquet",
        }
    }
}

/// Compression of a text file, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// `.gz`
    Gzip,
    /// `.zst` or `.zstd`
    Zstd,
}

impl Compression {
    /// The compression a path's extension names.
    pub fn for_path(path: &Path) -> Compression {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("gz" | "gzip") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    fn strip(self, name: &str) -> &str {
        match self {
            Compression::None => name,
            _ => name.rsplit_once('.').map_or(name, |(stem, _)| stem),
        }
    }
}

/// Opens a text file, decompressing by extension.
pub fn open_text(path: &Path) -> Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read data file '{}'", path.display()))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        bail!("data file '{}' is not a regular file", path.display());
    }
    Ok(match Compression::for_path(path) {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(1 << 20, file),
        )),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(file)
                .with_context(|| format!("cannot start reading zstd file '{}'", path.display()))?,
        ),
    })
}

/// The files to read and how to find the label and the categorical columns in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Data files, read in order (npy: a day's `_sparse.npy` file or its `day_N` prefix).
    pub files: Vec<PathBuf>,
    /// Their layout.
    pub format: RawFormat,
    /// TSV/CSV/Parquet: the label column's name.
    pub label: String,
    /// TSV/CSV/Parquet: the categorical columns, in this order; `None` = every column but
    /// the label (Criteo and npy: always C1..C26, or C1..Ck for k sparse columns).
    pub categorical: Option<Vec<String>>,
    /// Whether dense (Criteo integer) columns are parsed too (training needs them).
    pub dense: bool,
}

/// The default label column name.
pub const DEFAULT_LABEL: &str = "label";

impl Input {
    /// Reads `files` in the format named (or implied by the first file's name).
    pub fn new(files: Vec<PathBuf>, format: Option<RawFormat>) -> Input {
        let format = format.unwrap_or_else(|| {
            files
                .first()
                .map_or(RawFormat::Tsv, |f| RawFormat::for_path(f))
        });
        Input {
            files,
            format,
            label: DEFAULT_LABEL.to_string(),
            categorical: None,
            dense: false,
        }
    }
}

/// The names of Criteo's categorical columns, C1..Ck.
pub fn criteo_names(k: usize) -> Vec<String> {
    (1..=k).map(|i| format!("C{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_compression_follow_the_name() {
        assert_eq!(
            RawFormat::for_path(Path::new("a/day_0.csv.gz")),
            RawFormat::Csv
        );
        assert_eq!(RawFormat::for_path(Path::new("x.TSV")), RawFormat::Tsv);
        assert_eq!(
            RawFormat::for_path(Path::new("day_0_sparse.npy")),
            RawFormat::Npy
        );
        assert_eq!(
            RawFormat::for_path(Path::new("p.parquet")),
            RawFormat::Parquet
        );
        assert_eq!(
            Compression::for_path(Path::new("a.tsv.zst")),
            Compression::Zstd
        );
        assert_eq!(Compression::for_path(Path::new("a.tsv")), Compression::None);
    }
}

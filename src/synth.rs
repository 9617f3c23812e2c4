//! Synthetic data sets written in every input format, from the same hidden teacher as
//! `train --data synthetic`: Zipf ids per feature, labels from the teacher's logits.
//!
//! Rows are drawn in chunks, each from its own seeded streams, so chunks are generated in
//! parallel and the output is the same for any thread count. Memory is the teacher (12
//! bytes per category) plus a window of chunks, whatever the number of rows.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use crate::columnar::npy::{NpyDtype, NpyWriter};
use crate::columnar::parquet_io::{
    Codec, ColumnData, ColumnSpec, ColumnType, ParquetTableWriter, Values,
};
use crate::profile::input::{Compression, RawFormat};
use crate::train::data::FeatureSpec;
use crate::train::metrics::sigmoid;
use crate::train::synthetic::{TeacherFeature, derive_seed};

/// Rows per chunk (each chunk has its own random streams).
const CHUNK: usize = 1 << 16;
/// Chunks generated in parallel before they are written.
const WINDOW: usize = 16;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Rows to write.
    pub rows: u64,
    /// Zipf exponent per feature.
    pub zipf: Vec<f64>,
    /// Seed of every draw.
    pub seed: u64,
    /// npy: the integer type of the sparse ids.
    pub npy_ids: IdType,
}

/// The integer type of ids in an npy sparse array (TorchRec writes either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum IdType {
    /// 32-bit signed ids.
    #[default]
    Int32,
    /// 64-bit signed ids.
    Int64,
}

/// A generated chunk: ids row-major and labels.
pub struct Chunk {
    /// Ids, `labels.len() × features` row-major.
    pub ids: Vec<u32>,
    /// Labels, 0 or 1.
    pub labels: Vec<u8>,
}

/// The teacher of every feature.
pub struct Teacher {
    features: Vec<TeacherFeature>,
    seed: u64,
}

impl Teacher {
    /// Draws the teacher for `features` (as `train --data synthetic` does with `seed`).
    pub fn new(features: &[FeatureSpec], zipf: &[f64], seed: u64) -> Result<Teacher> {
        crate::train::synthetic::check_cardinalities(features)?;
        let per_category: u64 = features
            .iter()
            .map(|f| f.cardinality.saturating_mul(12))
            .sum();
        crate::memory::check_fits(
            Some(per_category),
            "the synthetic teacher",
            "use a schema with smaller cardinalities",
        )?;
        let weight = Normal::new(0.0, TEACHER_SCALE).expect("a valid scale");
        let features = features
            .par_iter()
            .zip(zipf)
            .enumerate()
            .map(|(f, (spec, &s))| TeacherFeature::new(spec, s, &weight, seed, f).map(|(t, _)| t))
            .collect::<Result<Vec<_>>>()?;
        Ok(Teacher { features, seed })
    }

    /// Rows `[c × CHUNK, …)` of chunk `c`, `rows` of them.
    pub fn chunk(&self, c: u64, rows: usize) -> Chunk {
        let nf = self.features.len();
        let mut ids = vec![0u32; rows * nf];
        let mut logit = vec![0f64; rows];
        for (f, t) in self.features.iter().enumerate() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(
                derive_seed(self.seed, f as u64 + 1),
                c + 1,
            ));
            for (r, z) in logit.iter_mut().enumerate() {
                let id = t.sample(&mut rng);
                ids[r * nf + f] = id;
                *z += t.weight[id as usize];
            }
        }
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(derive_seed(derive_seed(self.seed, 0), c + 1));
        let noise = Normal::new(0.0, TEACHER_NOISE).expect("a valid noise");
        let labels = logit
            .iter()
            .map(|&z| {
                let p = sigmoid(z + noise.sample(&mut rng));
                u8::from(rng.random::<f64>() < p)
            })
            .collect();
        Chunk { ids, labels }
    }
}

/// Standard deviation of the teacher's weights (as `train --data synthetic`).
pub const TEACHER_SCALE: f64 = 0.5;
/// Standard deviation of the teacher's logit noise (as `train --data synthetic`).
pub const TEACHER_NOISE: f64 = 0.5;

/// Generates chunks in order and hands each to `sink`.
pub fn generate(
    features: &[FeatureSpec],
    cfg: &SynthConfig,
    mut sink: impl FnMut(&Chunk) -> Result<()>,
) -> Result<()> {
    if cfg.zipf.len() != features.len() {
        bail!(
            "{} Zipf exponents for {} features",
            cfg.zipf.len(),
            features.len()
        );
    }
    let teacher = Teacher::new(features, &cfg.zipf, cfg.seed)?;
    let chunks = cfg.rows.div_ceil(CHUNK as u64);
    let mut c = 0u64;
    while c < chunks {
        let window: Vec<u64> = (c..chunks.min(c + WINDOW as u64)).collect();
        let generated: Vec<Chunk> = window
            .par_iter()
            .map(|&i| {
                let rows = (cfg.rows - i * CHUNK as u64).min(CHUNK as u64) as usize;
                teacher.chunk(i, rows)
            })
            .collect();
        for chunk in &generated {
            sink(chunk)?;
        }
        c += window.len() as u64;
    }
    Ok(())
}

/// The files a synthetic data set of `format` at `path` consists of (npy: a day's three
/// arrays, named from the `DIR/day_N` prefix `path`).
pub fn output_files(format: RawFormat, path: &Path) -> Vec<PathBuf> {
    if format == RawFormat::Npy {
        let base = path.to_string_lossy();
        let base = base
            .strip_suffix("_sparse.npy")
            .unwrap_or(&base)
            .to_string();
        ["sparse", "dense", "labels"]
            .iter()
            .map(|k| PathBuf::from(format!("{base}_{k}.npy")))
            .collect()
    } else {
        vec![path.to_path_buf()]
    }
}

/// Writes a synthetic data set of `cfg.rows` rows for `features` in `format` to `path`
/// (each file atomically).
pub fn write(
    features: &[FeatureSpec],
    cfg: &SynthConfig,
    format: RawFormat,
    path: &Path,
) -> Result<()> {
    match format {
        RawFormat::Tsv | RawFormat::Csv | RawFormat::Criteo => {
            if format == RawFormat::Criteo
                && features.len() != crate::profile::text::CRITEO_CATEGORICAL
            {
                bail!(
                    "the Criteo format has {} categorical columns but the schema has {} features: use tsv, csv, npy or parquet",
                    crate::profile::text::CRITEO_CATEGORICAL,
                    features.len()
                );
            }
            crate::output::write_atomic_via(path, |tmp| {
                write_text(features, cfg, format, tmp, Compression::for_path(path))
            })
        }
        RawFormat::Npy => write_npy(features, cfg, path),
        RawFormat::Parquet => {
            crate::output::write_atomic_via(path, |tmp| write_parquet(features, cfg, tmp))
        }
    }
}

fn write_text(
    features: &[FeatureSpec],
    cfg: &SynthConfig,
    format: RawFormat,
    tmp: &Path,
    compression: Compression,
) -> Result<()> {
    let file =
        std::fs::File::create(tmp).with_context(|| format!("cannot create '{}'", tmp.display()))?;
    let buffered = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut out: Box<dyn Write> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
            buffered,
            flate2::Compression::fast(),
        )),
        Compression::Zstd => {
            Box::new(zstd::stream::write::Encoder::new(buffered, 3)?.auto_finish())
        }
    };
    let delimiter = if format == RawFormat::Csv {
        b','
    } else {
        b'\t'
    };
    if format != RawFormat::Criteo {
        let mut header = String::from("label");
        for f in features {
            header.push(char::from(delimiter));
            header.push_str(&csv_field(&f.name, delimiter));
        }
        header.push('\n');
        out.write_all(header.as_bytes())?;
    }
    let nf = features.len();
    let mut line = Vec::with_capacity(1 << 20);
    generate(features, cfg, |chunk| {
        line.clear();
        for (row, &label) in chunk.ids.chunks_exact(nf).zip(&chunk.labels) {
            line.push(b'0' + label);
            if format == RawFormat::Criteo {
                // 13 empty integer columns: the teacher has no dense features.
                line.extend_from_slice(&[b'\t'; 13]);
            }
            for &id in row {
                line.push(delimiter);
                if format == RawFormat::Criteo {
                    push_hex8(&mut line, id);
                } else {
                    push_decimal(&mut line, id);
                }
            }
            line.push(b'\n');
        }
        out.write_all(&line).context("cannot write synthetic data")
    })?;
    out.flush().context("cannot write synthetic data")?;
    Ok(())
}

/// Dense columns of an npy day (TorchRec's Criteo layout has 13; synthetic ones are 0).
const NPY_DENSE: usize = 13;

fn write_npy(features: &[FeatureSpec], cfg: &SynthConfig, path: &Path) -> Result<()> {
    let files = output_files(RawFormat::Npy, path);
    let nf = features.len();
    crate::output::write_atomic_via(&files[0], |sparse_tmp| {
        crate::output::write_atomic_via(&files[1], |dense_tmp| {
            crate::output::write_atomic_via(&files[2], |labels_tmp| {
                let id_dtype = match cfg.npy_ids {
                    IdType::Int32 => NpyDtype::I32,
                    IdType::Int64 => NpyDtype::I64,
                };
                let mut sparse = NpyWriter::create(sparse_tmp, id_dtype, nf)?;
                let mut dense = NpyWriter::create(dense_tmp, NpyDtype::F32, NPY_DENSE)?;
                let mut labels = NpyWriter::create_1d(labels_tmp, NpyDtype::I32)?;
                let zeros = vec![0f32; CHUNK * NPY_DENSE];
                generate(features, cfg, |chunk| {
                    match cfg.npy_ids {
                        IdType::Int32 => {
                            // Ids are below the cardinality limit of 2^30, so they fit in i32.
                            let ids: Vec<i32> = chunk.ids.iter().map(|&i| i as i32).collect();
                            sparse.write_i32(&ids)?;
                        }
                        IdType::Int64 => {
                            let ids: Vec<i64> = chunk.ids.iter().map(|&i| i64::from(i)).collect();
                            sparse.write_i64(&ids)?;
                        }
                    }
                    dense.write_f32(&zeros[..chunk.labels.len() * NPY_DENSE])?;
                    let y: Vec<i32> = chunk.labels.iter().map(|&l| i32::from(l)).collect();
                    labels.write_i32(&y)?;
                    Ok(())
                })?;
                sparse.finish()?;
                dense.finish()?;
                labels.finish()?;
                Ok(())
            })
        })
    })
}

fn write_parquet(features: &[FeatureSpec], cfg: &SynthConfig, tmp: &Path) -> Result<()> {
    let mut specs = vec![ColumnSpec::new("label", ColumnType::Int32)];
    specs.extend(
        features
            .iter()
            .map(|f| ColumnSpec::new(f.name.clone(), ColumnType::Int64)),
    );
    let mut writer = ParquetTableWriter::create(tmp, &specs, Codec::Snappy)?;
    let nf = features.len();
    generate(features, cfg, |chunk| {
        let mut columns = Vec::with_capacity(nf + 1);
        columns.push(ColumnData {
            values: Values::Ints(chunk.labels.iter().map(|&l| i64::from(l)).collect()),
            nulls: None,
        });
        for f in 0..nf {
            let ids = chunk
                .ids
                .iter()
                .skip(f)
                .step_by(nf)
                .map(|&i| i64::from(i))
                .collect();
            columns.push(ColumnData {
                values: Values::Ints(ids),
                nulls: None,
            });
        }
        writer.write_row_group(&columns)
    })?;
    writer.finish()?;
    Ok(())
}

/// A header name quoted for CSV/TSV when it holds the delimiter, a quote or a newline.
fn csv_field(name: &str, delimiter: u8) -> String {
    if name
        .bytes()
        .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
    {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

fn push_decimal(out: &mut Vec<u8>, mut v: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_hex8(out: &mut Vec<u8>, v: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        out.push(HEX[((v >> (shift * 4)) & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_spelled_as_readers_parse_them() {
        let mut out = Vec::new();
        push_decimal(&mut out, 0);
        out.push(b' ');
        push_decimal(&mut out, 4_294_967_295);
        out.push(b' ');
        push_hex8(&mut out, 31);
        assert_eq!(out, b"0 4294967295 0000001f");
        assert_eq!(csv_field("a,b", b','), "\"a,b\"");
        assert_eq!(csv_field("a,b", b'\t'), "a,b");
    }
}

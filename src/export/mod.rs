//! Exports of a plan to the stacks that train at scale: one [`Exporter`] per [`Format`].
//!
//! Every exporter turns a validated [`Plan`] into text (plus notes for the user) and never
//! writes files itself: the CLI picks the format and writes atomically. Index maps in the
//! generated Python come from [`crate::partition::Scheme::table_maps`] and initialisation from
//! [`crate::init::table_inits`], the definitions the proofs, byte counts and trainer use.

use std::fmt;

use anyhow::{Result, bail};

use crate::plan::Plan;

mod dlrm;
mod plan_file;
mod python;
mod pytorch;
mod torchrec;

pub use dlrm::Dlrm;
pub use plan_file::PlanFile;
pub use python::{MAX_EMBEDDED_CLASS_IDS, sub_table_names};
pub use pytorch::PyTorch;
pub use torchrec::{Package, TorchRec, torchrec_package};

/// The text of an export and the notes the user should see (printed on stderr by the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The exported file's contents.
    pub text: String,
    /// Caveats that do not stop the export (e.g. dims FBGEMM will reject).
    pub warnings: Vec<String>,
}

impl Exported {
    fn text(text: String) -> Exported {
        Exported {
            text,
            warnings: Vec::new(),
        }
    }
}

/// One export format: turns a plan into text.
pub trait Exporter {
    /// Exports `plan`, or explains why the format cannot express it.
    fn export(&self, plan: &Plan) -> Result<Exported>;
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// The plan file itself as JSON, normalised.
    Json,
    /// The plan file itself as TOML, normalised.
    Toml,
    /// A self-contained PyTorch module.
    Pytorch,
    /// TorchRec `EmbeddingBagConfig`s plus id remapping and combiner modules.
    Torchrec,
    /// `dlrm_s_pytorch.py` command-line flags.
    Dlrm,
}

impl Format {
    /// Every format, in a fixed order.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Toml,
        Format::Pytorch,
        Format::Torchrec,
        Format::Dlrm,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Pytorch => "pytorch",
            Format::Torchrec => "torchrec",
            Format::Dlrm => "dlrm",
        }
    }

    /// Parses a format name, suggesting the closest one for a misspelling.
    pub fn parse(s: &str) -> Result<Format> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(&f) = Format::ALL.iter().find(|f| f.name() == lower) {
            return Ok(f);
        }
        let names = Format::ALL.map(Format::name);
        let hint = crate::source::did_you_mean(&lower, names);
        bail!(
            "unknown export format '{s}'{hint}: expected one of {}",
            names.join(", ")
        )
    }

    /// File extensions an output of this format may have (without the dot).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Json => &["json"],
            Format::Toml => &["toml"],
            Format::Pytorch | Format::Torchrec => &["py"],
            Format::Dlrm => &["txt", "sh", "args"],
        }
    }

    /// The exporter for this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Json => Box::new(PlanFile::Json),
            Format::Toml => Box::new(PlanFile::Toml),
            Format::Pytorch => Box::new(PyTorch),
            Format::Torchrec => Box::new(TorchRec),
            Format::Dlrm => Box::new(Dlrm),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Exports `plan` in `format`.
pub fn export(plan: &Plan, format: Format) -> Result<Exported> {
    format.exporter().export(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_suggests() {
        assert_eq!(Format::parse("PyTorch").unwrap(), Format::Pytorch);
        let e = Format::parse("pytorh").unwrap_err().to_string();
        assert!(e.contains("did you mean 'pytorch'?"), "{e}");
        let e = Format::parse("onnx").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("json, toml, pytorch, torchrec, dlrm"), "{e}");
    }
}

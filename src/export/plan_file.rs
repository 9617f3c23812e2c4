//! `json` and `toml`: the plan file itself, normalised (totals re-derived, keys in order).

use anyhow::Result;

use super::{Exported, Exporter};
use crate::partition::Scheme;
use crate::plan::Plan;

/// The plan file in one of its two syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFile {
    /// Pretty JSON.
    Json,
    /// TOML.
    Toml,
}

impl Exporter for PlanFile {
    fn export(&self, plan: &Plan) -> Result<Exported> {
        let text = match self {
            PlanFile::Json => plan.to_json_string()?,
            PlanFile::Toml => plan.to_toml_string()?,
        };
        let mut out = Exported::text(text);
        // The plan stores partition files by the path it was loaded with, relative to the
        // input plan's directory; a copy written elsewhere must find them from there.
        let explicit: Vec<String> = plan
            .features
            .iter()
            .filter_map(|f| match f.scheme() {
                Scheme::Explicit(p) => Some(format!("'{}' ({})", f.name(), p.path.display())),
                _ => None,
            })
            .collect();
        if !explicit.is_empty() {
            out.warnings.push(format!(
                "partition file paths are kept as written, relative to the input plan's directory: {}",
                explicit.join(", ")
            ));
        }
        Ok(out)
    }
}

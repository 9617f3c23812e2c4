//! Vocabularies: one file per feature mapping each raw value to its id, with its counts.
//!
//! A vocabulary directory holds `vocab.toml` (the manifest) and one `<feature>.tsv` per
//! feature:
//!
//! ```text
//! (fields are tab-separated)
//! # embplan vocabulary of feature 'C1': ids 0..1460 by descending count, 1460 = out of vocabulary
//! id  value  count  positives
//! 0  68fd1e64  1203  301
//! …
//! 1460  9a0b3c11  1  0        (a value seen fewer than min_count times: folded)
//! ```
//!
//! Every value seen is listed, folded ones too, so vocabularies of shards merge exactly.
//! Values are escaped (`\t`, `\n`, `\r`, `\\`) so any string fits on one line. The manifest
//! records each file's fingerprint; the schema records the manifest's, so a schema and a
//! vocabulary that do not belong together are caught.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use foldhash::fast::FixedState;
use serde::{Deserialize, Serialize};

use super::counts::{Counts, Tally};
use super::value::{self, Value};
use super::{Profile, ProfiledFeature};
use crate::schema::wide_u64;

/// The manifest's file name inside a vocabulary directory.
pub const MANIFEST: &str = "vocab.toml";

/// The manifest of a vocabulary directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Values seen fewer times than this share the out-of-vocabulary id.
    #[serde(with = "wide_u64")]
    pub min_count: u64,
    /// One entry per feature, in schema order.
    #[serde(rename = "feature")]
    pub features: Vec<ManifestFeature>,
}

/// One feature's vocabulary file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFeature {
    /// Feature name.
    pub name: String,
    /// File name inside the directory.
    pub file: String,
    /// Ids: kept values plus the out-of-vocabulary id (the schema's cardinality).
    #[serde(with = "wide_u64")]
    pub ids: u64,
    /// FNV-1a of the file's bytes, hexadecimal.
    pub fingerprint: String,
}

impl Manifest {
    /// A fingerprint of the whole vocabulary (of every file's fingerprint, in order).
    pub fn fingerprint(&self) -> String {
        let all: Vec<&str> = self
            .features
            .iter()
            .flat_map(|f| [f.name.as_str(), f.fingerprint.as_str()])
            .collect();
        format!("{:016x}", crate::source::fnv1a(all.join("\n").as_bytes()))
    }

    /// Reads `DIR/vocab.toml`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read vocabulary manifest '{}' (is '{}' a vocabulary directory written by `embplan profile --vocab`?)", path.display(), dir.display())
        })?;
        Manifest::from_toml(&path.display().to_string(), &text)
    }

    /// Parses a manifest's text; errors name `origin:line:col`.
    pub fn from_toml(origin: &str, text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text)
            .map_err(|e| crate::source::Source::new(origin, text).toml_error(&e))?;
        if m.version != 1 {
            bail!(
                "{origin}: vocabulary version {} is not supported by this embplan (expected 1)",
                m.version
            );
        }
        if let Some(f) = m.features.iter().find(|f| f.ids == 0) {
            bail!(
                "{origin}: feature '{}' has 0 ids: expected at least 1 (the out-of-vocabulary id)",
                f.name
            );
        }
        Ok(m)
    }
}

/// Errors when `schema` was profiled with another vocabulary than the one in `dir` (a
/// schema without a recorded vocabulary passes: the per-feature id counts are still checked
/// when the vocabulary is loaded).
pub fn check_schema(schema: &crate::schema::Schema, dir: &Path) -> Result<()> {
    let Some(expected) = schema
        .profile
        .as_ref()
        .and_then(|p| p.vocab_fingerprint.as_deref())
    else {
        return Ok(());
    };
    let actual = Manifest::load(dir)?.fingerprint();
    if actual != expected {
        bail!(
            "the vocabulary in '{}' (fingerprint {actual}) is not the one the schema was profiled with (fingerprint {expected}): pass the --vocab directory written with this schema, or profile again",
            dir.display()
        );
    }
    Ok(())
}

/// A file name for a feature: its name with anything but letters, digits, `_`, `-` and `.`
/// percent-encoded, so any column name is a safe, distinct file name.
pub fn file_name(feature: &str) -> String {
    let mut out = String::new();
    for b in feature.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    format!("{out}.tsv")
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

fn unescape(field: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(field.len());
    let mut it = field.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            out.push(match it.next()? {
                b't' => b'\t',
                b'n' => b'\n',
                b'r' => b'\r',
                b'\\' => b'\\',
                _ => return None,
            });
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// The text of one feature's vocabulary file.
pub fn feature_file(f: &ProfiledFeature, min_count: u64) -> Vec<u8> {
    let oov = f.profile.kept;
    let mut out = Vec::with_capacity(f.ranked.len() * 24 + 256);
    let folded = if min_count > 1 {
        format!("values seen fewer than {min_count} times, and unseen ones")
    } else {
        "unseen values".to_string()
    };
    let _ = writeln!(
        out,
        "# embplan vocabulary of feature '{}': ids 0..{oov} by descending count, {oov} = out of vocabulary ({folded})",
        f.name.replace('\n', " ")
    );
    out.extend_from_slice(b"id\tvalue\tcount\tpositives\n");
    for (i, (v, t)) in f.ranked.iter().enumerate() {
        let id = (i as u64).min(oov);
        let _ = write!(out, "{id}\t");
        escape(&value::value_text(v), &mut out);
        let _ = writeln!(out, "\t{}\t{}", t.count, t.positives);
    }
    out
}

/// Writes a profile's vocabulary into `dir` (created if missing), each file atomically;
/// returns the manifest.
pub fn write(dir: &Path, profile: &Profile) -> Result<Manifest> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create vocabulary directory '{}'", dir.display()))?;
    let mut features = Vec::with_capacity(profile.features.len());
    let mut used: HashMap<String, &str> = HashMap::new();
    for f in &profile.features {
        let file = file_name(&f.name);
        if let Some(other) = used.insert(file.to_ascii_lowercase(), &f.name) {
            bail!(
                "features '{other}' and '{}' would share the vocabulary file '{file}' on a case-insensitive file system: rename one",
                f.name
            );
        }
        let bytes = feature_file(f, profile.min_count);
        crate::output::write_atomic(&dir.join(&file), &bytes)?;
        features.push(ManifestFeature {
            name: f.name.clone(),
            file,
            ids: f.cardinality(),
            fingerprint: format!("{:016x}", crate::source::fnv1a(&bytes)),
        });
    }
    let manifest = Manifest {
        version: 1,
        min_count: profile.min_count,
        features,
    };
    let text = toml::to_string(&manifest).context("cannot format the vocabulary manifest")?;
    let text =
        format!("# embplan vocabulary: one file per feature, see each file's first line\n{text}");
    crate::output::write_atomic(&dir.join(MANIFEST), text.as_bytes())?;
    Ok(manifest)
}

/// One vocabulary file read back: every value with its id and counts.
pub struct FeatureVocab {
    /// Feature name.
    pub name: String,
    /// The out-of-vocabulary id (= kept values).
    pub oov: u64,
    /// Values in file order with their ids and tallies.
    pub entries: Vec<(Value, u64, Tally)>,
}

/// Reads one feature's file, checking it against the manifest's fingerprint.
pub fn read_feature(dir: &Path, f: &ManifestFeature) -> Result<FeatureVocab> {
    let path: PathBuf = dir.join(&f.file);
    let origin = path.display().to_string();
    let bytes =
        std::fs::read(&path).with_context(|| format!("cannot read vocabulary file '{origin}'"))?;
    let actual = format!("{:016x}", crate::source::fnv1a(&bytes));
    if actual != f.fingerprint {
        bail!(
            "{origin}: the file's fingerprint {actual} does not match {} in {}: the vocabulary was changed after it was written; profile the data again",
            f.fingerprint,
            dir.join(MANIFEST).display()
        );
    }
    parse_feature(&origin, &bytes, &f.name, f.ids)
}

/// Parses a vocabulary file of feature `name` with `ids` ids; errors name `origin:line`.
pub fn parse_feature(origin: &str, bytes: &[u8], name: &str, ids: u64) -> Result<FeatureVocab> {
    let oov = ids
        .checked_sub(1)
        .ok_or_else(|| anyhow!("{origin}: feature '{name}' has 0 ids"))?;
    let mut entries = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i < 2 || line.is_empty() {
            continue; // the comment and the column names; the final newline
        }
        let at = || format!("{origin}:{}", i + 1);
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let [id, raw, count, positives] = fields[..] else {
            bail!(
                "{}: expected 4 tab-separated fields (id, value, count, positives), found {}",
                at(),
                fields.len()
            );
        };
        let number = |field: &[u8], what: &str| -> Result<u64> {
            std::str::from_utf8(field)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    anyhow!(
                        "{}: expected the {what} as a whole number, found '{}'",
                        at(),
                        String::from_utf8_lossy(field)
                    )
                })
        };
        let (id, count, positives) = (
            number(id, "id")?,
            number(count, "count")?,
            number(positives, "positives")?,
        );
        let value = value::value_of_text(&unescape(raw).ok_or_else(|| {
            anyhow!(
                "{}: bad escape in value (expected \\t, \\n, \\r or \\\\)",
                at()
            )
        })?);
        if id > oov || positives > count {
            bail!(
                "{}: id {id} (at most {oov}) or positives {positives} (at most the count {count}) out of range",
                at()
            );
        }
        entries.push((value, id, Tally { count, positives }));
    }
    Ok(FeatureVocab {
        name: name.to_string(),
        oov,
        entries,
    })
}

/// A vocabulary loaded for encoding: raw value → id.
pub struct Encoder {
    packed: HashMap<u128, u32, FixedState>,
    long: HashMap<Box<[u8]>, u32, FixedState>,
    /// The id of values not in the vocabulary (or folded).
    pub oov: u32,
}

impl Encoder {
    /// Builds the map of one feature's kept values.
    pub fn new(v: &FeatureVocab) -> Result<Encoder> {
        let oov = u32::try_from(v.oov).map_err(|_| {
            anyhow!(
                "feature '{}' has {} ids: the trainer supports at most {}",
                v.name,
                v.oov + 1,
                u32::MAX
            )
        })?;
        let mut e = Encoder {
            packed: HashMap::default(),
            long: HashMap::default(),
            oov,
        };
        for (value, id, _) in v.entries.iter().filter(|(_, id, _)| *id < v.oov) {
            match value {
                Value::Packed(k) => e.packed.insert(*k, *id as u32),
                Value::Long(b) => e.long.insert(b.clone(), *id as u32),
            };
        }
        Ok(e)
    }

    /// The id of a packed key (`arena` holds long strings); the out-of-vocabulary id if absent.
    #[inline]
    pub fn id(&self, key: u128, arena: &[u8]) -> u32 {
        let found = if value::tag(key) == value::LONG_TAG {
            self.long.get(&arena[value::long_range(key)])
        } else {
            self.packed.get(&key)
        };
        found.copied().unwrap_or(self.oov)
    }
}

/// Counts of one feature rebuilt from its vocabulary (to merge shards).
pub fn counts_of(v: &FeatureVocab) -> Counts {
    let mut c = Counts::default();
    for (value, _, t) in &v.entries {
        c.add_tally(value.clone(), *t);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip_and_names_are_safe() {
        let mut out = Vec::new();
        escape(b"a\tb\\n\nc", &mut out);
        assert_eq!(out, b"a\\tb\\\\n\\nc");
        assert_eq!(unescape(&out).unwrap(), b"a\tb\\n\nc");
        assert!(unescape(b"bad\\x").is_none());
        assert_eq!(file_name("C1"), "C1.tsv");
        assert_eq!(file_name("../a b"), "%2E.%2Fa%20b.tsv");
    }
}

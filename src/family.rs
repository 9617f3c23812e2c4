//! The closed sets that name a scheme: its [`Family`] (how ids map to classes) and its
//! [`Combiner`] (how a multi-table feature's rows become one vector). One definition each,
//! used by plan files, results, calibration files and the command line.

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// How the looked-up rows of a multi-table feature are combined into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Combiner {
    /// Concatenate: table dims add up to the feature's dim.
    Concat,
    /// Element-wise sum: every table has the feature's dim.
    Add,
    /// Element-wise product (the paper's default): every table has the feature's dim.
    Mult,
}

impl Combiner {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Combiner::Concat => "concat",
            Combiner::Add => "add",
            Combiner::Mult => "mult",
        }
    }

    /// Every combiner, in a fixed order.
    pub const ALL: [Combiner; 3] = [Combiner::Mult, Combiner::Add, Combiner::Concat];

    /// Parses a combiner name.
    pub fn parse(s: &str) -> Result<Combiner> {
        match s.trim().to_ascii_lowercase().as_str() {
            "concat" => Ok(Combiner::Concat),
            "add" => Ok(Combiner::Add),
            "mult" => Ok(Combiner::Mult),
            other => {
                let hint = crate::source::did_you_mean(other, ["concat", "add", "mult"]);
                bail!("unknown combiner '{other}'{hint}: expected one of concat, add, mult")
            }
        }
    }
}

impl fmt::Display for Combiner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A partition family: how a scheme maps ids to classes. The one name of a family in plan
/// files, results, calibration files and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Family {
    /// Quotient–remainder, two tables.
    Qr,
    /// Mixed radix (generalized QR), three or four tables.
    MixedRadix,
    /// Chinese remainder, two or three tables.
    Crt,
    /// The hashing trick (not complementary; a baseline).
    Hash,
    /// One row per id (never searched: it is the uncompressed choice).
    #[cfg_attr(feature = "cli", value(skip))]
    Full,
    /// Partitions read from a file (never searched).
    #[cfg_attr(feature = "cli", value(skip))]
    Explicit,
}

impl Family {
    /// The compressed families the planner searches, in a fixed order.
    pub const SEARCHED: [Family; 4] = [Family::Qr, Family::MixedRadix, Family::Crt, Family::Hash];

    /// Every family, in a fixed order.
    pub const ALL: [Family; 6] = [
        Family::Full,
        Family::Hash,
        Family::Qr,
        Family::MixedRadix,
        Family::Crt,
        Family::Explicit,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::Qr => "qr",
            Family::MixedRadix => "mixed-radix",
            Family::Crt => "crt",
            Family::Hash => "hash",
            Family::Full => "full",
            Family::Explicit => "explicit",
        }
    }

    /// Whether the planner can choose it (a compressed arithmetic family).
    pub fn is_searched(self) -> bool {
        Family::SEARCHED.contains(&self)
    }

    /// Parses a family name, suggesting the closest one on a typo.
    pub fn parse(s: &str) -> Result<Family> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(&f) = Family::ALL.iter().find(|f| f.name() == lower) {
            return Ok(f);
        }
        let names = Family::ALL.map(Family::name);
        let hint = crate::source::did_you_mean(&lower, names);
        bail!(
            "unknown family '{s}'{hint}: expected one of {}",
            names.join(", ")
        )
    }

    /// Parses the name of a family the planner searches (not `full` or `explicit`).
    pub fn parse_searched(s: &str) -> Result<Family> {
        let family = Family::parse(s)?;
        if !family.is_searched() {
            let names = Family::SEARCHED.map(Family::name);
            bail!(
                "family '{family}' is not a compressed family the planner chooses: expected one of {} (full tables are always allowed)",
                names.join(", ")
            );
        }
        Ok(family)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

//! Partition families: the one definition of every family's class ids and table rows.
//!
//! Every arithmetic family maps an id x in [0, n) to one class per table as
//! `(x div d) mod m` (a [`TableMap`]), so proofs, byte counts, the trainer and the
//! exported Python all share this single definition:
//!
//! | family | table j | rows needed |
//! |---|---|---|
//! | `full` | x | n |
//! | `hash` m | x mod m | min(m, n) |
//! | `qr` m | remainder x mod m, then quotient x div m | min(m, n), ceil(n/m) |
//! | `mixed-radix` m1..mk | (x div m1·…·m(j-1)) mod mj | min(mj, ceil(n / m1·…·m(j-1))) |
//! | `crt` m1..mk | x mod mj | min(mj, n) |
//! | `explicit` | the class id given in a file | 1 + the largest id |
//! | `hot` K + tail | table 0: x if x < K, else K + c0(x − K); table j > 0: 0 if x < K, else 1 + cj(x − K) | K + rows0(n − K); 1 + rowsj(n − K) |
//!
//! "Rows needed" counts only rows some id in [0, n) reaches, so no row is dead weight.
//!
//! A `hot` scheme keeps the K most frequent ids (ids 0..K−1 under a profile vocabulary,
//! which numbers values by descending frequency) in rows of their own and composes the tail
//! with a qr, mixed-radix, crt or hash map `c` of x − K. It is itself a set of partitions:
//! table 0 gives each hot id its own class, every other table puts all hot ids in one shared
//! class (row 0), so a hot id's vector is its own row combined with shared rows (added, or
//! multiplied element-wise: a learned per-feature scale), and a tail id's is the tail
//! scheme's composition. Hot ids are separated from each other by table 0 and from tail ids
//! by every table, so the scheme is complementary exactly when the tail scheme is on n − K.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

pub use crate::family::{Combiner, Family};

/// The class-id map of one table: `(x div divisor) mod modulus` or an explicit lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableMap {
    /// `(x div divisor) mod modulus`; no modulus means no reduction.
    Arith {
        /// Integer floor divisor (≥ 1).
        divisor: u64,
        /// Modulus (≥ 1), or `None` for the plain quotient.
        modulus: Option<u64>,
    },
    /// The class of x is `classes[x]`.
    Lookup(Arc<[u64]>),
    /// A table of a `hot` scheme: ids below `hot` get their own rows (`own`) or share row 0;
    /// the others get `base + ((x − hot) div divisor) mod modulus`, base being `hot` or 1.
    Hot {
        /// Number of hot ids K.
        hot: u64,
        /// Whether hot ids have rows of their own here (table 0) or share one (the others).
        own: bool,
        /// The tail's divisor (≥ 1).
        divisor: u64,
        /// The tail's modulus, or `None` for the plain quotient.
        modulus: Option<u64>,
    },
}

impl TableMap {
    /// The class (row) of id x.
    #[inline(always)]
    pub fn class_of(&self, x: u64) -> u64 {
        match self {
            TableMap::Arith { divisor, modulus } => arith_class(x, *divisor, *modulus),
            TableMap::Lookup(classes) => classes[x as usize],
            TableMap::Hot {
                hot,
                own,
                divisor,
                modulus,
            } => match (x < *hot, *own) {
                (true, true) => x,
                (true, false) => 0,
                // Below the tail's rows (≤ n − hot), so base + class < n: no overflow.
                (false, true) => hot + arith_class(x - hot, *divisor, *modulus),
                (false, false) => 1 + arith_class(x - hot, *divisor, *modulus),
            },
        }
    }
}

/// `(x div divisor) mod modulus`.
#[inline(always)]
fn arith_class(x: u64, divisor: u64, modulus: Option<u64>) -> u64 {
    let q = if divisor == 1 { x } else { x / divisor };
    match modulus {
        Some(m) => q % m,
        None => q,
    }
}

/// Class ids read from a file: one line per category, one id per partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitPartitions {
    /// Where the ids were read from (kept in plan files).
    pub path: PathBuf,
    /// Number of categories (lines).
    pub n: u64,
    /// Per partition, the class id of every category.
    pub columns: Vec<Arc<[u64]>>,
    /// Per partition, 1 + the largest class id.
    pub rows: Vec<u64>,
}

impl ExplicitPartitions {
    /// Reads a partition file; errors name `file:line:col`.
    pub fn load(path: &Path) -> Result<ExplicitPartitions> {
        // A device or FIFO named in a plan (/dev/zero) would be read forever.
        if path.exists() && !path.is_file() {
            bail!(
                "partition file '{}' is not a regular file: expected a text file with one line per category",
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read partition file '{}'", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses partition text (blank lines and `#` comments are skipped).
    pub fn parse(path: &Path, text: &str) -> Result<ExplicitPartitions> {
        let origin = path.display();
        let mut columns: Vec<Vec<u64>> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("");
            if content.trim().is_empty() {
                continue;
            }
            let mut fields = Vec::new();
            let mut pos = 0;
            for token in content.split_whitespace() {
                let col = content[pos..].find(token).map_or(pos, |p| p + pos);
                pos = col + token.len();
                // The location is formatted only on error: this loop runs once per class id.
                let at = || format!("{origin}:{}:{}", i + 1, content[..col].chars().count() + 1);
                let id: u64 = token.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}: expected a class id (an integer from 0 to {}), found '{token}'",
                        at(),
                        u64::MAX - 1
                    )
                })?;
                // A partition has 1 + its largest class id rows, which must itself be a u64.
                if id == u64::MAX {
                    bail!(
                        "{}: class id {id} is too large: a partition has 1 + its largest class id rows, so class ids must be at most {}",
                        at(),
                        u64::MAX - 1
                    );
                }
                fields.push(id);
            }
            if columns.is_empty() {
                columns = vec![Vec::new(); fields.len()];
            } else if fields.len() != columns.len() {
                bail!(
                    "{origin}:{}:1: expected {} class ids (one per partition, as on the first line), found {}",
                    i + 1,
                    columns.len(),
                    fields.len()
                );
            }
            for (c, id) in columns.iter_mut().zip(fields) {
                c.push(id);
            }
        }
        if columns.is_empty() || columns[0].is_empty() {
            bail!(
                "{origin}: no categories: expected one line per category with one class id per partition"
            );
        }
        let n = columns[0].len() as u64;
        let rows = columns
            .iter()
            .map(|c| c.iter().max().map_or(1, |&m| m + 1))
            .collect();
        Ok(ExplicitPartitions {
            path: path.to_path_buf(),
            n,
            columns: columns.into_iter().map(Arc::from).collect(),
            rows,
        })
    }
}

/// A partition scheme for one feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// One table of n rows.
    Full,
    /// The hashing trick: one table, class x mod m (not complementary unless m ≥ n).
    Hash {
        /// Number of buckets.
        m: u64,
    },
    /// Quotient–remainder: remainder table (x mod m) then quotient table (x div m).
    Qr {
        /// Remainder modulus, equal to the quotient divisor.
        m: u64,
    },
    /// Generalized QR: digits of x in radices m1..mk (least significant first).
    MixedRadix {
        /// The radices m1..mk.
        radices: Vec<u64>,
    },
    /// Chinese remainder: x mod mj for each modulus.
    Crt {
        /// The moduli m1..mk (need not be coprime).
        moduli: Vec<u64>,
    },
    /// Domain partitions given in a file.
    Explicit(Arc<ExplicitPartitions>),
    /// The `hot` most frequent ids (0..hot−1) in rows of their own, the tail composed by
    /// `tail` (hash, qr, mixed-radix or crt) over x − hot; see the module documentation.
    Hot {
        /// Number of hot ids K (1 ≤ K < n).
        hot: u64,
        /// The tail's scheme, over the n − K tail ids.
        tail: Box<Scheme>,
    },
}

impl Scheme {
    /// The scheme's family (a hot scheme's is its tail's).
    pub fn family(&self) -> Family {
        match self {
            Scheme::Full => Family::Full,
            Scheme::Hash { .. } => Family::Hash,
            Scheme::Qr { .. } => Family::Qr,
            Scheme::MixedRadix { .. } => Family::MixedRadix,
            Scheme::Crt { .. } => Family::Crt,
            Scheme::Explicit(_) => Family::Explicit,
            Scheme::Hot { tail, .. } => tail.family(),
        }
    }

    /// The number of hot ids with rows of their own (0 unless a `hot` scheme).
    pub fn hot(&self) -> u64 {
        match self {
            Scheme::Hot { hot, .. } => *hot,
            _ => 0,
        }
    }

    /// The scheme of the ids that share rows: the tail of a `hot` scheme, else itself.
    pub fn tail(&self) -> &Scheme {
        match self {
            Scheme::Hot { tail, .. } => tail,
            other => other,
        }
    }

    /// The scheme's integer parameters (m, radices or moduli); empty for full and explicit.
    pub fn parameters(&self) -> Vec<u64> {
        match self {
            Scheme::Full | Scheme::Explicit(_) => Vec::new(),
            Scheme::Hash { m } | Scheme::Qr { m } => vec![*m],
            Scheme::MixedRadix { radices } => radices.clone(),
            Scheme::Crt { moduli } => moduli.clone(),
            Scheme::Hot { tail, .. } => tail.parameters(),
        }
    }

    /// Checks the scheme is well-formed for a feature of `n` categories.
    pub fn validate(&self, n: u64) -> Result<()> {
        if n == 0 {
            bail!("cardinality must be at least 1, found 0");
        }
        let check_list = |what: &str, list: &[u64]| -> Result<()> {
            if list.is_empty() {
                bail!("{} needs at least one {what}", self.family());
            }
            if let Some(pos) = list.iter().position(|&m| m == 0) {
                if list.len() == 1 {
                    bail!("{} {what} is 0; it must be at least 1", self.family());
                }
                bail!(
                    "{} {what} #{} is 0; every {what} must be at least 1",
                    self.family(),
                    pos + 1
                );
            }
            Ok(())
        };
        match self {
            Scheme::Full => Ok(()),
            Scheme::Hash { m } | Scheme::Qr { m } => check_list("modulus", &[*m]),
            Scheme::MixedRadix { radices } => check_list("radix", radices),
            Scheme::Crt { moduli } => check_list("modulus", moduli),
            Scheme::Explicit(p) => {
                if p.n != n {
                    bail!(
                        "partition file '{}' has {} categories (lines) but the feature's cardinality is {n}",
                        p.path.display(),
                        p.n
                    );
                }
                Ok(())
            }
            Scheme::Hot { hot, tail } => {
                if !matches!(
                    **tail,
                    Scheme::Hash { .. }
                        | Scheme::Qr { .. }
                        | Scheme::MixedRadix { .. }
                        | Scheme::Crt { .. }
                ) {
                    bail!(
                        "hot ids need a hash, qr, mixed-radix or crt tail, found {}",
                        tail.family()
                    );
                }
                if *hot == 0 || *hot >= n {
                    bail!(
                        "hot ids: expected from 1 to {} (fewer than the cardinality {n}), found {hot}",
                        n - 1
                    );
                }
                tail.validate(n - hot)
            }
        }
    }

    /// The class-id map of every table, in partition order.
    pub fn table_maps(&self) -> Vec<TableMap> {
        let arith = |divisor, modulus| TableMap::Arith { divisor, modulus };
        match self {
            Scheme::Full => vec![arith(1, None)],
            Scheme::Hash { m } => vec![arith(1, Some(*m))],
            Scheme::Qr { m } => vec![arith(1, Some(*m)), arith(*m, None)],
            Scheme::MixedRadix { radices } => {
                // Place values saturate at u64::MAX: once the true value exceeds every id,
                // x div place is 0 either way.
                let mut place: u64 = 1;
                radices
                    .iter()
                    .map(|&r| {
                        let map = arith(place, Some(r));
                        place = place.saturating_mul(r);
                        map
                    })
                    .collect()
            }
            Scheme::Crt { moduli } => moduli.iter().map(|&m| arith(1, Some(m))).collect(),
            Scheme::Explicit(p) => p.columns.iter().cloned().map(TableMap::Lookup).collect(),
            Scheme::Hot { hot, tail } => tail
                .table_maps()
                .into_iter()
                .enumerate()
                .map(|(j, map)| match map {
                    TableMap::Arith { divisor, modulus } => TableMap::Hot {
                        hot: *hot,
                        own: j == 0,
                        divisor,
                        modulus,
                    },
                    _ => unreachable!("a hot scheme's tail is arithmetic (validated)"),
                })
                .collect(),
        }
    }

    /// Rows each table needs so that every id in [0, n) has its row (see the module table).
    pub fn table_rows(&self, n: u64) -> Vec<u64> {
        if let Scheme::Explicit(p) = self {
            return p.rows.clone();
        }
        if let Scheme::Hot { hot, tail } = self {
            // Validated hot < n; table 0 adds the hot rows, the others one shared row.
            let tail_n = n.saturating_sub(*hot).max(1);
            return tail
                .table_rows(tail_n)
                .iter()
                .enumerate()
                .map(|(j, &r)| if j == 0 { hot.saturating_add(r) } else { r + 1 })
                .collect();
        }
        self.table_maps()
            .iter()
            .map(|map| match map {
                TableMap::Arith { divisor, modulus } => {
                    let reached = n.div_ceil(*divisor);
                    modulus.map_or(reached, |m| reached.min(m))
                }
                TableMap::Lookup(_) | TableMap::Hot { .. } => {
                    unreachable!("explicit and hot schemes returned above")
                }
            })
            .collect()
    }

    /// Number of tables (partitions).
    pub fn num_tables(&self) -> usize {
        match self {
            Scheme::Full | Scheme::Hash { .. } => 1,
            Scheme::Qr { .. } => 2,
            Scheme::MixedRadix { radices } => radices.len(),
            Scheme::Crt { moduli } => moduli.len(),
            Scheme::Explicit(p) => p.columns.len(),
            Scheme::Hot { tail, .. } => tail.num_tables(),
        }
    }

    /// Short human form, e.g. `qr(4)`, `crt(7,11,13)`.
    pub fn describe(&self) -> String {
        match self {
            Scheme::Full => "full".into(),
            Scheme::Explicit(p) => format!("explicit({})", p.path.display()),
            Scheme::Hot { hot, tail } => format!("hot({hot})+{}", tail.describe()),
            _ => {
                let params: Vec<String> = self.parameters().iter().map(u64::to_string).collect();
                format!("{}({})", self.family(), params.join(","))
            }
        }
    }
}

/// Splits a feature dim across `k` concatenated tables: equal parts in units of `multiple`,
/// the remaining units going to the first tables. `None` when some table would get no unit.
pub fn concat_split(dim: u32, k: usize, multiple: u32) -> Option<Vec<u32>> {
    let multiple = multiple.max(1);
    if k == 0 || !dim.is_multiple_of(multiple) {
        return None;
    }
    let units = dim / multiple;
    let k32 = u32::try_from(k).ok()?;
    if units < k32 {
        return None;
    }
    let base = units / k32;
    let extra = units % k32;
    Some(
        (0..k32)
            .map(|j| (base + u32::from(j < extra)) * multiple)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_rows_and_classes() {
        let s = Scheme::Qr { m: 4 };
        assert_eq!(s.table_rows(10), vec![4, 3]);
        let maps = s.table_maps();
        assert_eq!((maps[0].class_of(9), maps[1].class_of(9)), (1, 2));
        assert_eq!(Scheme::Qr { m: 100 }.table_rows(10), vec![10, 1]);
    }

    #[test]
    fn mixed_radix_counts_only_needed_rows() {
        let s = Scheme::MixedRadix {
            radices: vec![100, 100, 1000],
        };
        assert_eq!(s.table_rows(10_000_000), vec![100, 100, 1000]);
        assert_eq!(s.table_rows(1_234_567), vec![100, 100, 124]);
        assert_eq!(s.table_rows(50), vec![50, 1, 1]);
        let maps = s.table_maps();
        let x = 1_234_567;
        let classes: Vec<u64> = maps.iter().map(|m| m.class_of(x)).collect();
        assert_eq!(classes, vec![67, 45, 123]);
    }

    #[test]
    fn huge_radices_do_not_overflow() {
        let s = Scheme::MixedRadix {
            radices: vec![u64::MAX, u64::MAX, 2],
        };
        assert_eq!(s.table_rows(u64::MAX), vec![u64::MAX, 1, 1]);
        let maps = s.table_maps();
        assert_eq!(maps[2].class_of(u64::MAX - 1), 0);
    }

    #[test]
    fn explicit_partitions_parse_and_locate_errors() {
        let p =
            ExplicitPartitions::parse(Path::new("p.txt"), "0 0 0\n1 0 1\n# c\n2 1 1\n").unwrap();
        assert_eq!(p.n, 3);
        assert_eq!(p.rows, vec![3, 2, 2]);
        let e = ExplicitPartitions::parse(Path::new("p.txt"), "0 0\n1 x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.txt:2:3: expected a class id (an integer from 0 to 18446744073709551614), found 'x'"
        );
        let e = ExplicitPartitions::parse(Path::new("p.txt"), "0 0\n1\n").unwrap_err();
        assert!(e.to_string().starts_with("p.txt:2:1: expected 2 class ids"));
    }

    #[test]
    fn explicit_partitions_reject_a_class_id_too_large_to_count_rows() {
        let text = "0 18446744073709551614\n1 18446744073709551615\n";
        let e = ExplicitPartitions::parse(Path::new("p.txt"), text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.txt:2:3: class id 18446744073709551615 is too large: a partition has 1 + its largest class id rows, so class ids must be at most 18446744073709551614"
        );
        let p = ExplicitPartitions::parse(Path::new("p.txt"), "18446744073709551614\n").unwrap();
        assert_eq!(p.rows, vec![u64::MAX]);
    }

    #[test]
    fn concat_split_rule() {
        assert_eq!(concat_split(16, 2, 1), Some(vec![8, 8]));
        assert_eq!(concat_split(16, 3, 1), Some(vec![6, 5, 5]));
        assert_eq!(concat_split(16, 3, 4), Some(vec![8, 4, 4]));
        assert_eq!(concat_split(16, 5, 4), None);
        assert_eq!(concat_split(18, 2, 4), None);
    }
}

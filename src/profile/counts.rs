//! Exact per-value counts of one feature: occurrences and positive labels.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::table::IdTable;
use super::value::{self, Value};

/// Occurrences of one value and how many of them had a positive label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows holding the value.
    pub count: u64,
    /// Of those, rows with label 1.
    pub positives: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.count += other.count;
        self.positives += other.positives;
    }
}

/// A fixed-seed hasher: counts are merged by key, and a fixed seed keeps runs reproducible.
type Fast = FixedState;

/// Exact counts of one feature's values.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Integer values, by value, in a table built for counting (most ids are integers).
    ints: IdTable,
    /// Short strings packed into their key.
    packed: HashMap<u128, Tally, Fast>,
    long: HashMap<Box<[u8]>, Tally, Fast>,
    /// Rows counted.
    pub rows: u64,
    /// Rows with label 1.
    pub positives: u64,
}

/// Bytes one tracked value costs, used to decide when exact counting no longer fits in
/// memory: a 24-byte slot in an id table kept between 35% and 70% full (34 to 69 bytes,
/// about 48 on average; string maps cost less).
pub const BYTES_PER_VALUE: u64 = 48;

/// Reusable buffers for [`Counts::add_column`].
#[derive(Debug, Default)]
pub struct Scratch {
    ids: Vec<u64>,
    positive: Vec<bool>,
    hashes: Vec<u64>,
}

impl Counts {
    /// Counts one row's value; `arena` holds the bytes of long-string keys.
    #[inline]
    pub fn add(&mut self, key: u128, positive: bool, arena: &[u8]) {
        let p = u64::from(positive);
        self.rows += 1;
        self.positives += p;
        let tag = value::tag(key);
        let t = if tag == value::INT_TAG {
            self.ints.add(
                key as u64,
                Tally {
                    count: 1,
                    positives: p,
                },
            );
            return;
        } else if tag == value::LONG_TAG {
            let bytes = &arena[value::long_range(key)];
            if let Some(t) = self.long.get_mut(bytes) {
                t
            } else {
                self.long.entry(bytes.into()).or_default()
            }
        } else {
            self.packed.entry(key).or_default()
        };
        t.count += 1;
        t.positives += p;
    }

    /// Counts one column of a batch: the value of each row and whether its label is
    /// positive. Integer values go through the id table a column at a time (see
    /// [`IdTable::count_column`]); strings one by one.
    pub fn add_column(
        &mut self,
        keys: impl Iterator<Item = u128>,
        labels: &[f32],
        arena: &[u8],
        scratch: &mut Scratch,
    ) {
        scratch.ids.clear();
        scratch.positive.clear();
        for (key, &label) in keys.zip(labels) {
            let positive = label > 0.5;
            if value::tag(key) == value::INT_TAG {
                scratch.ids.push(key as u64);
                scratch.positive.push(positive);
            } else {
                self.add(key, positive, arena);
            }
        }
        let n = scratch.ids.len() as u64;
        let p = scratch.positive.iter().filter(|&&b| b).count() as u64;
        self.rows += n;
        self.positives += p;
        self.ints
            .count_column(&scratch.ids, &scratch.positive, &mut scratch.hashes);
    }

    /// Adds `tally` to `value` (merging vocabularies or worker counts).
    pub fn add_tally(&mut self, value: Value, tally: Tally) {
        self.rows += tally.count;
        self.positives += tally.positives;
        match value {
            Value::Packed(k) if value::tag(k) == value::INT_TAG => self.ints.add(k as u64, tally),
            Value::Packed(k) => self.packed.entry(k).or_default().add(tally),
            Value::Long(b) => self.long.entry(b).or_default().add(tally),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: Counts) {
        self.rows += other.rows;
        self.positives += other.positives;
        self.ints.merge(other.ints);
        merge_map(&mut self.packed, other.packed);
        merge_map(&mut self.long, other.long);
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> u64 {
        (self.ints.len() + self.packed.len() + self.long.len()) as u64
    }

    /// Every value with its tally, most frequent first; ties by [`value::value_order`].
    pub fn ranked(self) -> Vec<(Value, Tally)> {
        let mut all: Vec<(Value, Tally)> = self
            .ints
            .into_entries()
            .map(|(k, t)| (Value::Packed(value::pack_int(k)), t))
            .chain(self.packed.into_iter().map(|(k, t)| (Value::Packed(k), t)))
            .chain(self.long.into_iter().map(|(k, t)| (Value::Long(k), t)))
            .collect();
        all.sort_unstable_by(|a, b| {
            b.1.count
                .cmp(&a.1.count)
                .then_with(|| value::value_order(&a.0, &b.0))
        });
        all
    }
}

/// Adds `from` into `into`, inserting the smaller map into the larger one.
fn merge_map<K: std::hash::Hash + Eq>(
    into: &mut HashMap<K, Tally, Fast>,
    mut from: HashMap<K, Tally, Fast>,
) {
    if into.len() < from.len() {
        std::mem::swap(into, &mut from);
    }
    for (k, t) in from {
        into.entry(k).or_default().add(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranked_is_by_count_then_integers_then_bytes() {
        let mut arena = Vec::new();
        let mut c = Counts::default();
        for (text, positive) in [
            ("b", true),
            ("7", false),
            ("a", false),
            ("b", false),
            ("10", true),
        ] {
            let k = value::pack_text(text.as_bytes(), &mut arena);
            c.add(k, positive, &arena);
        }
        let long = b"a value longer than fifteen bytes";
        let k = value::pack_text(long, &mut arena);
        c.add(k, true, &arena);
        let texts: Vec<String> = c
            .clone()
            .ranked()
            .iter()
            .map(|(v, _)| String::from_utf8(value::value_text(v)).unwrap())
            .collect();
        assert_eq!(texts[..4], ["b", "7", "10", "a"]);
        assert_eq!(c.distinct(), 5);
        assert_eq!((c.rows, c.positives), (6, 3));
        let mut d = Counts::default();
        d.merge(c.clone());
        d.merge(c);
        assert_eq!(
            d.ranked()[0].1,
            Tally {
                count: 4,
                positives: 2
            }
        );
    }
}

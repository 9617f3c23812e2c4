//! `embplan.verify`: whether a scheme's partitions are complementary, proved by the library.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::errors::{invalid_argument, message};
use embplan::partition::{ExplicitPartitions, Scheme};

/// A complementarity verdict: whether every id gets its own code, why, and a colliding pair
/// when not.
#[pyclass(module = "embplan", frozen, get_all)]
pub struct Verdict {
    /// Whether every id gets a distinct class tuple.
    complementary: bool,
    /// "proof" (the family's algebra) or "exhaustive" (every id enumerated).
    method: String,
    /// The argument, in words.
    reason: String,
    /// (a, b, classes): two ids sharing every class, when not complementary.
    counterexample: Option<(u64, u64, Vec<u64>)>,
}

#[pymethods]
impl Verdict {
    fn __bool__(&self) -> bool {
        self.complementary
    }

    fn __repr__(&self) -> String {
        format!(
            "Verdict(complementary={}, reason={:?})",
            if self.complementary { "True" } else { "False" },
            self.reason
        )
    }
}

/// Proves (or refutes, with a colliding pair) that one scheme's partitions of `cardinality`
/// ids are complementary, as `embplan verify` does. Give exactly one of qr, radix, crt, hash
/// or partitions (a file of class ids, one line per id; cardinality may then be None), and
/// optionally hot (the most frequent ids with rows of their own).
#[pyfunction]
#[pyo3(signature = (cardinality = None, *, qr = None, radix = None, crt = None, hash = None, partitions = None, hot = None))]
#[allow(clippy::too_many_arguments)]
pub fn verify(
    py: Python<'_>,
    cardinality: Option<u64>,
    qr: Option<u64>,
    radix: Option<Vec<u64>>,
    crt: Option<Vec<u64>>,
    hash: Option<u64>,
    partitions: Option<PathBuf>,
    hot: Option<u64>,
) -> PyResult<Verdict> {
    let given = [
        qr.is_some(),
        radix.is_some(),
        crt.is_some(),
        hash.is_some(),
        partitions.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(invalid_argument(
            "give exactly one scheme: qr=M, radix=[...], crt=[...], hash=M or partitions=PATH",
        ));
    }
    let scheme = match (qr, radix, crt, hash, partitions) {
        (Some(m), ..) => Scheme::Qr { m },
        (_, Some(radices), ..) => Scheme::MixedRadix { radices },
        (_, _, Some(moduli), ..) => Scheme::Crt { moduli },
        (_, _, _, Some(m), _) => Scheme::Hash { m },
        (.., Some(path)) => Scheme::Explicit(Arc::new(
            ExplicitPartitions::load(&path).map_err(|e| invalid_argument(message(&e)))?,
        )),
        _ => unreachable!("exactly one scheme was given"),
    };
    let n = match (&scheme, cardinality) {
        (_, Some(n)) => n,
        (Scheme::Explicit(p), None) => p.n,
        _ => {
            return Err(invalid_argument(
                "give the number of categories (cardinality)",
            ));
        }
    };
    let scheme = match hot {
        Some(hot) => Scheme::Hot {
            hot,
            tail: Box::new(scheme),
        },
        None => scheme,
    };
    scheme
        .validate(n)
        .map_err(|e| invalid_argument(message(&e)))?;
    let v = py
        .detach(|| embplan::proof::prove(&scheme, n))
        .map_err(|e| invalid_argument(message(&e)))?;
    Ok(Verdict {
        complementary: v.complementary,
        method: match v.method {
            embplan::proof::Method::Proof => "proof".into(),
            embplan::proof::Method::Exhaustive => "exhaustive".into(),
        },
        reason: v.reason,
        counterexample: v.counterexample.map(|c| (c.a, c.b, c.classes)),
    })
}

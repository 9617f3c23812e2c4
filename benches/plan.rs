//! Planner speed: `cargo bench --bench plan` times `plan::search` on synthetic schemas of
//! 1k, 10k, 100k and 1M features (cardinalities log-uniform in [2, 10^8], seeded), each at a
//! budget of a quarter of the full model. Targets: 10k features < 1 s, 1M < 60 s, ~linear.
//! Pass sizes to time only those, e.g. `cargo bench --bench plan -- 1000 10000`. It first
//! times `plan --budget 4GiB` and `1GiB` on the bundled criteo-kaggle schema (library only).

use std::path::Path;
use std::time::Instant;

use embplan::cost::Cost;
use embplan::plan::{SearchOptions, search};
use embplan::schema::{Dtype, Feature, Optimizer, Schema};
use embplan::size::parse_bytes;

/// SplitMix64: a tiny seeded generator, so the bench needs no extra dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn synthetic(features: usize, seed: u64) -> Schema {
    let mut rng = SplitMix(seed);
    let features = (0..features)
        .map(|i| Feature {
            name: format!("f{i}"),
            cardinality: (2f64 * 5e7f64.powf(rng.unit())).round() as u64,
            dim: 16,
            weight: 1.0,
            zipf: None,
            profile: None,
        })
        .collect();
    Schema {
        name: Some("synthetic".into()),
        dim: 16,
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        zipf: None,
        features,
        profile: None,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let options = SearchOptions::default();
    let kaggle = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/criteo-kaggle.toml");
    let schema = Schema::load(&kaggle).expect("bundled schema");
    for budget in ["4GiB", "1GiB"] {
        let bytes = parse_bytes(budget).unwrap().0;
        let start = Instant::now();
        let runs = 20;
        for _ in 0..runs {
            search(&schema, bytes, &options).expect("search");
        }
        let secs = start.elapsed().as_secs_f64() / f64::from(runs);
        println!(
            "criteo-kaggle --budget {budget}: {:.1} ms per plan",
            secs * 1e3
        );
    }
    println!("features  seconds  µs/feature  plan bytes / full");
    for n in sizes {
        let schema = synthetic(n, 42);
        let full = Cost::sum(schema.features.iter().map(|f| {
            Cost::of_table(f.cardinality, f.dim, schema.dtype, schema.optimizer).unwrap()
        }))
        .unwrap()
        .bytes;
        let start = Instant::now();
        let out = search(&schema, full / 4, &options).expect("search");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{n:>8}  {secs:>7.3}  {:>10.2}  {:.4}",
            secs * 1e6 / n as f64,
            out.total_bytes as f64 / full as f64
        );
    }
}

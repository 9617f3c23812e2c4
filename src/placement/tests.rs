//! Placement tests: TorchRec's row blocks, buffer bytes, packing, row-wise spill, fitting.

use super::*;
use crate::partition::{Combiner, Scheme};
use crate::plan::{PlannedFeature, SearchOptions};
use crate::schema::{Optimizer, Schema};
use crate::source::Source;

fn plan_of(features: Vec<PlannedFeature>) -> Plan {
    Plan {
        name: None,
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features,
        planner: None,
        placement: None,
    }
}

fn full(name: &str, rows: u64) -> PlannedFeature {
    PlannedFeature::new(name, rows, 16, Scheme::Full, None).unwrap()
}

fn topology(devices: u32, device_memory: u64) -> Topology {
    Topology {
        devices,
        device_memory,
        batch: 512,
    }
}

/// f32 + Adagrad, dim 16: 128 bytes a row.
const ROW: u64 = 128;
/// One table-wise table's buffers on 2 ranks at batch 512: 1024 int64 ids in, 1024 × 16
/// floats out.
const BUFFERS_2: u64 = 1024 * 8 + 1024 * 16 * 4;

#[test]
fn row_wise_blocks_are_torchrecs() {
    assert_eq!(row_wise_rows(10, 3), vec![4, 4, 2]);
    assert_eq!(row_wise_rows(5, 4), vec![2, 2, 1, 0]);
    assert_eq!(row_wise_rows(3, 8), vec![1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(row_wise_rows(u64::MAX, 3).iter().sum::<u64>(), u64::MAX);
}

#[test]
fn table_wise_buffers_follow_torchrecs_estimate() {
    let plan = plan_of(vec![full("a", 1000)]);
    let p = place(&plan, topology(2, 1 << 30)).unwrap().unwrap();
    assert_eq!(p.tables[0].sharding, Sharding::TableWise);
    let load = p.loads[p.tables[0].rank.unwrap() as usize];
    assert_eq!(load.table_bytes, 1000 * ROW);
    assert_eq!(load.buffer_bytes, BUFFERS_2);
    assert_eq!(load.lookups, 1024);
}

#[test]
fn tables_spread_over_devices_and_loads_rederive() {
    let plan = plan_of(
        (0..8)
            .map(|i| full(&format!("f{i}"), 1000 * (i + 1)))
            .collect(),
    );
    let p = place(&plan, topology(2, 1 << 30)).unwrap().unwrap();
    assert!(p.fits());
    let a = p.loads[0].table_bytes as f64;
    let b = p.loads[1].table_bytes as f64;
    assert!((a - b).abs() / (a + b) < 0.15, "{a} vs {b}");
    assert_eq!(p.loads, device_loads(&plan, p.topology, &p.tables).unwrap());
}

#[test]
fn a_table_larger_than_a_device_goes_row_wise() {
    let plan = plan_of(vec![full("big", 100_000), full("small", 10)]);
    // 12.8 MB of table on devices of 8 MB: only row-wise halves fit.
    let p = place(&plan, topology(2, 8_000_000)).unwrap().unwrap();
    assert_eq!(p.tables[0].sharding, Sharding::RowWise);
    assert_eq!(p.tables[0].rank, None);
    assert_eq!(
        p.loads[0].table_bytes + p.loads[1].table_bytes,
        100_010 * ROW
    );
    assert!(p.fits());
    assert_eq!(p.loads, device_loads(&plan, p.topology, &p.tables).unwrap());
}

#[test]
fn too_little_memory_is_unplaceable() {
    let plan = plan_of(vec![full("big", 100_000)]);
    let e = place(&plan, topology(2, 1_000_000)).unwrap().unwrap_err();
    assert_eq!(e.table, "big");
    assert!(e.need > e.free);
    let one = place(&plan, topology(1, 1_000_000)).unwrap().unwrap_err();
    assert_eq!(one.need, 100_000 * ROW + 512 * 8 + 512 * 16 * 4);
}

#[test]
fn stored_placements_are_checked() {
    let plan = plan_of(vec![
        full("a", 100),
        PlannedFeature::new("b", 1000, 16, Scheme::Qr { m: 40 }, Some(Combiner::Mult)).unwrap(),
    ]);
    let p = place(&plan, topology(2, 1 << 30)).unwrap().unwrap();
    assert_eq!(
        p.tables
            .iter()
            .map(|t| t.table.as_str())
            .collect::<Vec<_>>(),
        ["a", "b__r", "b__q"]
    );
    let mut wrong = p.tables.clone();
    wrong[0].rank = Some(2);
    assert!(device_loads(&plan, p.topology, &wrong).is_err());
    let mut wrong = p.tables.clone();
    wrong[1].table = "b__x".into();
    assert!(device_loads(&plan, p.topology, &wrong).is_err());
    let mut wrong = p.tables.clone();
    wrong.pop();
    assert!(device_loads(&plan, p.topology, &wrong).is_err());
}

fn synthetic() -> Schema {
    let text = std::fs::read_to_string("schemas/synthetic.toml").unwrap();
    Schema::from_toml(&Source::new("synthetic.toml", &text)).unwrap()
}

#[test]
fn search_places_the_plan_under_each_device() {
    let schema = synthetic();
    let t = topology(2, 4_000_000);
    let found = search_placed(&schema, t, None, &SearchOptions::default()).unwrap();
    assert!(found.placement.fits());
    assert!(found.outcome.budget_bytes <= 8_000_000);
    assert!(found.outcome.total_bytes < 8_000_000);
    // Within 1/1000 of the largest budget that places, or the first budget placed.
    let above = found.outcome.budget_bytes + found.outcome.budget_bytes / 500 + 1;
    if above < 8_000_000 {
        let bigger = crate::plan::search(&schema, above, &SearchOptions::default()).unwrap();
        let placed_bigger = place(&bigger.plan, t).unwrap();
        assert!(
            placed_bigger.is_err() || bigger.total_bytes == found.outcome.total_bytes,
            "a budget 0.2% larger also places a different plan"
        );
    }
}

#[test]
fn ample_devices_keep_full_tables() {
    let schema = synthetic();
    let found = search_placed(
        &schema,
        topology(4, 1 << 30),
        None,
        &SearchOptions::default(),
    )
    .unwrap();
    assert!(found.outcome.at_full);
    assert_eq!(found.tries, 1);
}

#[test]
fn hopeless_devices_are_an_error() {
    let schema = synthetic();
    let e = search_placed(
        &schema,
        topology(2, 50_000),
        None,
        &SearchOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no plan places on 2 device(s)"),
        "{e}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn plan_from(rows: &[(u64, u32)], dtype: Dtype) -> Plan {
        Plan {
            dtype,
            ..plan_of(
                rows.iter()
                    .enumerate()
                    .map(|(i, &(n, dim))| {
                        PlannedFeature::new(&format!("f{i}"), n, dim, Scheme::Full, None).unwrap()
                    })
                    .collect(),
            )
        }
    }

    proptest! {
        /// Row blocks cover every row once, in TorchRec's ⌈rows / devices⌉ blocks.
        #[test]
        fn row_blocks_partition_the_rows(rows in 0u64..1_000_000, devices in 1u32..17) {
            let blocks = row_wise_rows(rows, devices);
            prop_assert_eq!(blocks.len(), devices as usize);
            prop_assert_eq!(blocks.iter().sum::<u64>(), rows);
            let block = rows.div_ceil(u64::from(devices));
            prop_assert!(blocks.iter().all(|&b| b <= block));
        }

        /// A placement either fits every device and re-derives to the same loads (every table
        /// placed once, all the plan's bytes held), or names a table that fits nowhere.
        #[test]
        fn placements_fit_or_say_which_table_does_not(
            rows in proptest::collection::vec((1u64..200_000, prop_oneof![Just(4u32), Just(16), Just(64)]), 1..12),
            devices in 1u32..6,
            memory in 50_000u64..20_000_000,
            batch in 1u64..1024,
            half in any::<bool>(),
        ) {
            let plan = plan_from(&rows, if half { Dtype::F16 } else { Dtype::F32 });
            let t = Topology { devices, device_memory: memory, batch };
            match place(&plan, t).unwrap() {
                Ok(p) => {
                    prop_assert!(p.fits());
                    prop_assert_eq!(&p.loads, &device_loads(&plan, t, &p.tables).unwrap());
                    let held: u64 = p.loads.iter().map(|l| l.table_bytes).sum();
                    prop_assert_eq!(held, plan.costs().unwrap().total.bytes);
                }
                Err(e) => {
                    prop_assert!(e.need > e.free);
                    prop_assert!(plan.features.iter().any(|f| f.name() == e.table));
                }
            }
        }
    }
}

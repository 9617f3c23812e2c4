//! How `plan` shows a placement: one row per device and a line on how it was fitted.

use crate::cli::report::{align_right, new_table};
use embplan::placement::{Placement, Sharding};
use embplan::size::{format_iec, group_thousands};

/// Row-wise tables named in the summary line before "and N more".
const NAMED: usize = 6;

/// One row per device: its tables, their bytes and buffers, the total against capacity, and
/// the ids it looks up per step.
pub fn device_table(p: &Placement) -> comfy_table::Table {
    let mut table = new_table(&[
        "device",
        "tables",
        "table bytes",
        "buffers",
        "total",
        "of capacity",
        "lookups/step",
    ]);
    let row_wise = p
        .tables
        .iter()
        .filter(|t| t.sharding == Sharding::RowWise)
        .count();
    for (rank, load) in p.loads.iter().enumerate() {
        let own = p
            .tables
            .iter()
            .filter(|t| t.rank.is_some_and(|r| r as usize == rank))
            .count();
        let tables = if row_wise > 0 {
            format!("{own} + {row_wise} row-wise blocks")
        } else {
            own.to_string()
        };
        table.add_row(vec![
            rank.to_string(),
            tables,
            format_iec(load.table_bytes),
            format_iec(load.buffer_bytes),
            format_iec(load.bytes()),
            percent(load.bytes(), p.topology.device_memory),
            group_thousands(load.lookups),
        ]);
    }
    align_right(&mut table, &[1, 2, 3, 4, 5, 6]);
    table
}

/// `placed on N devices of C …`: the topology, the row-wise tables and the fullest device.
pub fn placement_line(p: &Placement) -> String {
    let t = p.topology;
    let row_wise: Vec<&str> = p
        .tables
        .iter()
        .filter(|t| t.sharding == Sharding::RowWise)
        .map(|t| t.table.as_str())
        .collect();
    let sharding = match row_wise.len() {
        0 => "every table table-wise".to_string(),
        n if n <= NAMED => format!("row-wise: {}; the rest table-wise", row_wise.join(", ")),
        n => format!(
            "row-wise: {} and {} more; the rest table-wise",
            row_wise[..NAMED].join(", "),
            n - NAMED
        ),
    };
    format!(
        "placement: {} device(s) of {} at batch {} per rank (buffers as TorchRec's planner counts them, one id per example and feature); {sharding}; fullest device {}",
        t.devices,
        format_iec(t.device_memory),
        group_thousands(t.batch),
        percent(p.max_device_bytes(), t.device_memory)
    )
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "n/a".into();
    }
    format!("{:.1}%", part as f64 / whole as f64 * 100.0)
}

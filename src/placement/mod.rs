//! Placing a plan's tables on devices the way TorchRec shards them: each sub-table whole on
//! one rank (table-wise), or split by rows over every rank (row-wise) where it is too large
//! for one device.
//!
//! A device's bytes are its shards' weights and optimizer state ([`Cost::of_table`] of the
//! shard's rows, the same count as `estimate`) plus the input and output buffers TorchRec's
//! planner charges each shard at the per-rank batch size (its `_calculate_tw_shard_io_sizes`
//! and `_calculate_rw_shard_io_sizes` with one id per example and feature, int64 ids, and
//! outputs in the table's element type). [`place`] packs the largest tables first onto the
//! device where bytes and lookups stay most even, and fails only where no table fits.

mod fit;

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use fit::{PlacedSearch, PlacementError, search_placed};

use crate::cost::Cost;
use crate::export::sub_table_names;
use crate::plan::Plan;
use crate::schema::Dtype;
use crate::size::group_thousands;

/// TorchRec charges 8 bytes per input id: TBE converts indices to int64.
const ID_BYTES: u64 = 8;

/// The devices a plan is placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Number of devices (ranks), each with the same capacity.
    pub devices: u32,
    /// Bytes each device gives to embedding tables, optimizer state and their buffers.
    #[serde(with = "crate::schema::wide_u64")]
    pub device_memory: u64,
    /// Examples per rank and step (TorchRec's planner batch size).
    pub batch: u64,
}

/// How one sub-table is sharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharding {
    /// The whole table on one rank.
    TableWise,
    /// Rows split in TorchRec's blocks of ⌈rows / devices⌉ over every rank.
    RowWise,
}

/// Where one sub-table lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TablePlacement {
    /// The sub-table's name (as in every export: `C3__q`, ...).
    pub table: String,
    /// Table-wise or row-wise.
    pub sharding: Sharding,
    /// The rank of a table-wise table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
}

/// What one device holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceLoad {
    /// Weights + optimizer state of its shards.
    #[serde(with = "crate::schema::wide_u64")]
    pub table_bytes: u64,
    /// TorchRec's input and output buffers of its shards.
    #[serde(with = "crate::schema::wide_u64")]
    pub buffer_bytes: u64,
    /// Ids looked up per step (global batch) in its shards.
    pub lookups: u64,
}

impl DeviceLoad {
    /// Table bytes plus buffers.
    pub fn bytes(&self) -> u64 {
        self.table_bytes.saturating_add(self.buffer_bytes)
    }

    fn add(&mut self, shard: &ShardLoad) -> Result<()> {
        self.table_bytes = checked(self.table_bytes.checked_add(shard.table_bytes))?;
        self.buffer_bytes = checked(self.buffer_bytes.checked_add(shard.buffer_bytes))?;
        self.lookups = checked(self.lookups.checked_add(shard.lookups))?;
        Ok(())
    }
}

/// A plan's tables on a topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// The devices.
    pub topology: Topology,
    /// Every sub-table, in plan order.
    #[serde(rename = "table")]
    pub tables: Vec<TablePlacement>,
    /// Per rank, what it holds (derived; checked when a plan file is read).
    #[serde(rename = "device")]
    pub loads: Vec<DeviceLoad>,
}

impl Placement {
    /// The fullest device's bytes.
    pub fn max_device_bytes(&self) -> u64 {
        self.loads.iter().map(DeviceLoad::bytes).max().unwrap_or(0)
    }

    /// Whether every device's bytes are within its capacity.
    pub fn fits(&self) -> bool {
        self.max_device_bytes() <= self.topology.device_memory
    }
}

/// One shard's charge on its device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ShardLoad {
    table_bytes: u64,
    buffer_bytes: u64,
    lookups: u64,
}

fn checked(v: Option<u64>) -> Result<u64> {
    v.ok_or_else(|| anyhow::anyhow!("device bytes do not fit in 64 bits"))
}

/// A sub-table as the placer sees it.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    rows: u64,
    dim: u32,
}

/// TorchRec's output element size: the table's own (fp16 for every type but fp32 in the
/// unsharded collection, int8 included).
fn output_bytes(dtype: Dtype) -> u64 {
    match dtype {
        Dtype::F32 => 4,
        Dtype::F16 | Dtype::Bf16 | Dtype::Int8 => 2,
    }
}

/// The rows of each rank's block of a row-wise table (TorchRec's ⌈rows / devices⌉ blocks;
/// trailing ranks may get fewer rows or none).
pub fn row_wise_rows(rows: u64, devices: u32) -> Vec<u64> {
    let block = rows.div_ceil(u64::from(devices.max(1)));
    (0..u64::from(devices))
        .map(|rank| {
            let start = rank.saturating_mul(block).min(rows);
            (start.saturating_add(block)).min(rows) - start
        })
        .collect()
}

struct Charger {
    topology: Topology,
    dtype: Dtype,
    optimizer: crate::schema::Optimizer,
}

impl Charger {
    /// Ids of the global batch (one per example) and the bytes of their pooled outputs.
    fn global_ids_and_output(&self, t: &Table) -> Result<(u64, u64)> {
        let ids = checked(
            self.topology
                .batch
                .checked_mul(u64::from(self.topology.devices)),
        )?;
        let out = checked(
            ids.checked_mul(u64::from(t.dim))
                .and_then(|v| v.checked_mul(output_bytes(self.dtype))),
        )?;
        Ok((ids, out))
    }

    /// The whole table on one rank: its bytes, all the world's ids in, all its vectors out.
    fn table_wise(&self, t: &Table) -> Result<ShardLoad> {
        let (ids, out) = self.global_ids_and_output(t)?;
        Ok(ShardLoad {
            table_bytes: Cost::of_table(t.rows, t.dim, self.dtype, self.optimizer)?.bytes,
            buffer_bytes: checked(ids.checked_mul(ID_BYTES).and_then(|i| i.checked_add(out)))?,
            lookups: ids,
        })
    }

    /// Rank `r`'s block of a row-wise table: a share of the ids in, every partial vector out.
    fn row_wise(&self, t: &Table) -> Result<Vec<ShardLoad>> {
        let world = u64::from(self.topology.devices);
        let (ids, out) = self.global_ids_and_output(t)?;
        row_wise_rows(t.rows, self.topology.devices)
            .into_iter()
            .map(|rows| {
                if rows == 0 {
                    return Ok(ShardLoad::default());
                }
                Ok(ShardLoad {
                    table_bytes: Cost::of_table(rows, t.dim, self.dtype, self.optimizer)?.bytes,
                    buffer_bytes: checked(
                        self.topology
                            .batch
                            .checked_mul(ID_BYTES)
                            .and_then(|i| i.checked_add(out)),
                    )?,
                    lookups: ids.div_ceil(world),
                })
            })
            .collect()
    }
}

/// Why a plan could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "table '{table}' needs {} bytes on one device (with its buffers), where at most {} of its {} bytes are free",
    group_thousands(*need),
    group_thousands(*free),
    group_thousands(*capacity)
)]
pub struct Unplaceable {
    /// The sub-table that fit nowhere.
    pub table: String,
    /// Its bytes on one device: the whole table with its buffers, or, row-wise, the block
    /// that overflows its rank.
    pub need: u64,
    /// The free bytes it met: the emptiest device's for a whole table, that rank's for a block.
    pub free: u64,
    /// Each device's capacity.
    pub capacity: u64,
}

/// Places every sub-table of `plan` on `topology`: row-wise where a table with its buffers
/// exceeds one device, else table-wise, largest first, onto the device that keeps bytes and
/// lookups most even. `Ok(Err(_))` when some table fits nowhere.
pub fn place(plan: &Plan, topology: Topology) -> Result<Result<Placement, Unplaceable>> {
    anyhow::ensure!(
        topology.devices >= 1,
        "a topology needs at least one device"
    );
    let charger = Charger {
        topology,
        dtype: plan.dtype,
        optimizer: plan.optimizer,
    };
    let tables = plan_tables(plan);
    let mut placed: Vec<Option<TablePlacement>> = vec![None; tables.len()];
    let mut loads = vec![DeviceLoad::default(); topology.devices as usize];
    let capacity = topology.device_memory;
    let mut order = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let whole = charger.table_wise(t)?;
        if whole.table_bytes.saturating_add(whole.buffer_bytes) > capacity && topology.devices > 1 {
            if let Err(e) = add_row_wise(&charger, t, &mut loads)? {
                return Ok(Err(e));
            }
            placed[i] = Some(row_wise_placement(t));
        } else {
            order.push((i, whole));
        }
    }
    // Largest first; the name breaks ties so the placement never depends on sort stability.
    order.sort_by(|(a, la), (b, lb)| {
        lb.table_bytes
            .cmp(&la.table_bytes)
            .then_with(|| tables[*a].name.cmp(&tables[*b].name))
    });
    let totals = Totals::of(&order, topology.devices);
    for (i, shard) in order {
        let t = &tables[i];
        match best_device(&loads, &shard, capacity, &totals) {
            Some(rank) => {
                loads[rank].add(&shard)?;
                placed[i] = Some(TablePlacement {
                    table: t.name.clone(),
                    sharding: Sharding::TableWise,
                    rank: Some(u32::try_from(rank)?),
                });
            }
            None if topology.devices > 1 => {
                if let Err(e) = add_row_wise(&charger, t, &mut loads)? {
                    return Ok(Err(e));
                }
                placed[i] = Some(row_wise_placement(t));
            }
            None => return Ok(Err(unplaceable(t, &shard, &loads, capacity))),
        }
    }
    Ok(Ok(Placement {
        topology,
        tables: placed
            .into_iter()
            .map(|p| p.expect("every table placed"))
            .collect(),
        loads,
    }))
}

fn row_wise_placement(t: &Table) -> TablePlacement {
    TablePlacement {
        table: t.name.clone(),
        sharding: Sharding::RowWise,
        rank: None,
    }
}

/// Every sub-table of the plan, in plan order.
fn plan_tables(plan: &Plan) -> Vec<Table> {
    plan.features
        .iter()
        .flat_map(|f| {
            sub_table_names(f)
                .into_iter()
                .zip(f.tables())
                .map(|(name, shape)| Table {
                    name,
                    rows: shape.rows,
                    dim: shape.dim,
                })
        })
        .collect()
}

/// Adds a row-wise table's blocks to every device, or says which one overflows.
fn add_row_wise(
    charger: &Charger,
    t: &Table,
    loads: &mut [DeviceLoad],
) -> Result<Result<(), Unplaceable>> {
    let shards = charger.row_wise(t)?;
    let capacity = charger.topology.device_memory;
    for (load, shard) in loads.iter().zip(&shards) {
        let need = shard.table_bytes.saturating_add(shard.buffer_bytes);
        let free = capacity.saturating_sub(load.bytes());
        if need > free {
            // The block that overflows its rank, against that rank's free bytes.
            return Ok(Err(Unplaceable {
                table: t.name.clone(),
                need,
                free,
                capacity,
            }));
        }
    }
    for (load, shard) in loads.iter_mut().zip(&shards) {
        load.add(shard)?;
    }
    Ok(Ok(()))
}

fn unplaceable(t: &Table, shard: &ShardLoad, loads: &[DeviceLoad], capacity: u64) -> Unplaceable {
    Unplaceable {
        table: t.name.clone(),
        need: shard.table_bytes.saturating_add(shard.buffer_bytes),
        free: loads
            .iter()
            .map(|l| capacity.saturating_sub(l.bytes()))
            .max()
            .unwrap_or(0),
        capacity,
    }
}

/// The even share of bytes and lookups per device of the table-wise tables.
struct Totals {
    bytes: f64,
    lookups: f64,
}

impl Totals {
    fn of(order: &[(usize, ShardLoad)], devices: u32) -> Totals {
        let n = f64::from(devices.max(1));
        let bytes: f64 = order
            .iter()
            .map(|(_, s)| (s.table_bytes + s.buffer_bytes) as f64)
            .sum();
        let lookups: f64 = order.iter().map(|(_, s)| s.lookups as f64).sum();
        Totals {
            bytes: (bytes / n).max(1.0),
            lookups: (lookups / n).max(1.0),
        }
    }
}

/// The device where the shard fits and the larger of its byte and lookup shares (each
/// against an even split) stays smallest; the lowest rank on ties.
fn best_device(
    loads: &[DeviceLoad],
    shard: &ShardLoad,
    capacity: u64,
    even: &Totals,
) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (rank, load) in loads.iter().enumerate() {
        let bytes = load
            .bytes()
            .saturating_add(shard.table_bytes)
            .saturating_add(shard.buffer_bytes);
        if bytes > capacity {
            continue;
        }
        let lookups = load.lookups.saturating_add(shard.lookups);
        let score = (bytes as f64 / even.bytes).max(lookups as f64 / even.lookups);
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, rank));
        }
    }
    best.map(|(_, rank)| rank)
}

/// Each device's load under the given assignments, which must name the plan's sub-tables in
/// order (how a plan file's placement is checked).
pub fn device_loads(
    plan: &Plan,
    topology: Topology,
    assigned: &[TablePlacement],
) -> Result<Vec<DeviceLoad>> {
    anyhow::ensure!(
        topology.devices >= 1,
        "a placement needs at least one device"
    );
    anyhow::ensure!(
        topology.batch >= 1,
        "a placement's batch must be at least 1"
    );
    let tables = plan_tables(plan);
    anyhow::ensure!(
        tables.len() == assigned.len(),
        "the placement lists {} tables, the plan has {}",
        assigned.len(),
        tables.len()
    );
    let charger = Charger {
        topology,
        dtype: plan.dtype,
        optimizer: plan.optimizer,
    };
    let mut loads = vec![DeviceLoad::default(); topology.devices as usize];
    for (t, a) in tables.iter().zip(assigned) {
        anyhow::ensure!(
            t.name == a.table,
            "the placement lists table '{}' where the plan has '{}'",
            a.table,
            t.name
        );
        match (a.sharding, a.rank) {
            (Sharding::TableWise, Some(rank)) if rank < topology.devices => {
                loads[rank as usize].add(&charger.table_wise(t)?)?;
            }
            (Sharding::TableWise, _) => anyhow::bail!(
                "table '{}' is table-wise and needs a rank below {}",
                t.name,
                topology.devices
            ),
            (Sharding::RowWise, None) => {
                for (load, shard) in loads.iter_mut().zip(charger.row_wise(t)?) {
                    load.add(&shard)?;
                }
            }
            (Sharding::RowWise, Some(_)) => {
                anyhow::bail!(
                    "table '{}' is row-wise: it spans every rank and takes no rank",
                    t.name
                )
            }
        }
    }
    Ok(loads)
}

#[cfg(test)]
mod tests;

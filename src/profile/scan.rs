//! Streaming raw files in parallel: one thread reads (and decompresses) blocks of whole
//! records, worker threads parse them into [`Batch`]es and fold them into their own state.
//!
//! Memory is bounded by the block size times the queue depth, whatever the file size. Each
//! batch carries its sequence number, so a caller that needs file order (training) can put
//! the batches back in order; counting does not care.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use anyhow::{Result, anyhow, bail};

use super::input::{Input, RawFormat, open_text};
use super::text::{self, Roles};

/// Rows parsed from one block: labels, packed values (row-major), dense values.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// Position of the block in the whole input (0, 1, 2, …).
    pub seq: u64,
    /// Labels, 0 or 1.
    pub labels: Vec<f32>,
    /// Packed values ([`super::value`]), `labels.len() × features` row-major.
    pub keys: Vec<u128>,
    /// Bytes of the long strings the keys point into.
    pub arena: Vec<u8>,
    /// Dense values (Criteo: ln(1 + max(x, 0)), 13 per row) when asked for.
    pub dense: Vec<f32>,
}

impl Batch {
    /// Empties the batch for reuse, keeping its buffers.
    pub fn clear(&mut self) {
        self.labels.clear();
        self.keys.clear();
        self.arena.clear();
        self.dense.clear();
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// What a scan found: the categorical columns and how many dense values each row has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Categorical column names, in the order of each row's keys.
    pub names: Vec<String>,
    /// Dense values per row in [`Batch::dense`] (0 unless asked for and present).
    pub dense: usize,
}

/// Bytes per block handed to a worker: small enough that a block's parsed keys stay in a
/// core's L2 cache while its columns are counted.
const BLOCK: usize = 1 << 19;

/// A block of whole records of one text file.
struct Block {
    file: usize,
    first_line: u64,
    data: Vec<u8>,
}

/// Reads every file of `input` and folds each batch into a per-worker state made by `init`;
/// returns the states and the columns. `threads` workers parse (at least one).
pub fn scan<S: Send>(
    input: &Input,
    threads: usize,
    init: impl Fn() -> S + Sync,
    fold: impl Fn(&mut S, &Batch) -> Result<()> + Sync,
) -> Result<(Vec<S>, Columns)> {
    if input.files.is_empty() {
        bail!("no data files given");
    }
    match input.format {
        RawFormat::Tsv | RawFormat::Csv | RawFormat::Criteo => {
            scan_text(input, threads.max(1), &init, &fold)
        }
        RawFormat::Npy | RawFormat::Parquet => {
            super::columnar::scan(input, threads.max(1), &init, &fold)
        }
    }
}

fn scan_text<S: Send>(
    input: &Input,
    threads: usize,
    init: &(impl Fn() -> S + Sync),
    fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<(Vec<S>, Columns)> {
    // The first file's header fixes the columns; later files must have them too.
    let mut roles: Vec<Roles> = Vec::with_capacity(input.files.len());
    let mut readers = Vec::with_capacity(input.files.len());
    let mut names: Option<Vec<String>> = None;
    for path in &input.files {
        let mut reader = open_text(path)?;
        let (r, header_lines) = if input.format == RawFormat::Criteo {
            let r = Roles::criteo(path, input.categorical.as_deref(), input.dense)?;
            names.get_or_insert_with(|| r.names.clone());
            (r, 0)
        } else {
            let (header, lines) = text::read_header(path, &mut reader, input.format)?;
            let r = text::table_roles(path, &header, input, names.as_deref())?;
            names.get_or_insert_with(|| r.names.clone());
            (r, lines)
        };
        roles.push(r);
        readers.push((reader, header_lines));
    }
    let names = names.unwrap_or_default();
    let dense = roles.first().map_or(0, |r| r.dense);
    let states = pipeline(
        threads,
        |tx: &mpsc::SyncSender<(u64, Block)>, failed: &AtomicBool| {
            read_blocks(input, readers, tx, failed)
        },
        |block: Block, batch: &mut Batch| {
            text::parse_block(
                &input.files[block.file],
                block.first_line,
                &block.data,
                &roles[block.file],
                batch,
            )
        },
        init,
        fold,
    )?;
    Ok((states, Columns { names, dense }))
}

/// Runs `produce` on this thread, queueing numbered jobs, while `threads` workers turn each
/// job into a batch with `parse` and fold it into their state. On failure the error of the
/// earliest job wins, whatever the thread count; the producer stops once `failed` is set.
pub fn pipeline<J: Send, S: Send>(
    threads: usize,
    produce: impl FnOnce(&mpsc::SyncSender<(u64, J)>, &AtomicBool) -> Result<()>,
    parse: impl Fn(J, &mut Batch) -> Result<()> + Sync,
    init: &(impl Fn() -> S + Sync),
    fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<Vec<S>> {
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(u64, J)>(threads * 2);
    let rx = Mutex::new(rx);
    let errors: Mutex<Vec<(u64, anyhow::Error)>> = Mutex::new(Vec::new());
    let states = std::thread::scope(|scope| -> Result<Vec<S>> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init();
                    let mut batch = Batch::default();
                    loop {
                        let job = rx
                            .lock()
                            .map_err(|_| anyhow!("a worker failed"))
                            .and_then(|r| r.recv().map_err(|_| anyhow!("done")));
                        let Ok((seq, job)) = job else { break };
                        if failed.load(Ordering::Relaxed) {
                            continue;
                        }
                        batch.clear();
                        batch.seq = seq;
                        let result = parse(job, &mut batch).and_then(|()| fold(&mut state, &batch));
                        if let Err(e) = result {
                            failed.store(true, Ordering::Relaxed);
                            errors.lock().expect("error list").push((seq, e));
                        }
                    }
                    state
                })
            })
            .collect();
        let produced = produce(&tx, &failed);
        drop(tx);
        let states: Vec<S> = workers
            .into_iter()
            .map(|w| w.join().expect("a profile worker panicked"))
            .collect();
        produced?;
        Ok(states)
    })?;
    let mut errors = errors.into_inner().expect("error list");
    if !errors.is_empty() {
        errors.sort_by_key(|(seq, _)| *seq);
        return Err(errors.swap_remove(0).1);
    }
    Ok(states)
}

/// The reader: cuts each file into blocks of whole records and queues them.
fn read_blocks(
    input: &Input,
    readers: Vec<(Box<dyn Read + Send>, u64)>,
    tx: &mpsc::SyncSender<(u64, Block)>,
    failed: &AtomicBool,
) -> Result<()> {
    let mut seq = 0u64;
    let quoted = input.format != RawFormat::Criteo;
    for (file, (mut reader, header_lines)) in readers.into_iter().enumerate() {
        let path = &input.files[file];
        let mut line = header_lines + 1;
        let mut carry: Vec<u8> = Vec::new();
        loop {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let mut data = std::mem::take(&mut carry);
            let start = data.len();
            data.resize(start + BLOCK, 0);
            let got = read_full(path, &mut reader, &mut data[start..])?;
            data.truncate(start + got);
            let eof = got == 0;
            if eof
                && quoted
                && let Some(at) = unclosed_quote(&data)
            {
                let line = line + count_lines(&data[..at]);
                bail!(
                    "{}:{line}: the quoted field that starts here is never closed: expected a closing '\"'",
                    path.display()
                );
            }
            let end = if eof {
                data.len()
            } else if let Some(end) = last_record_end(&data, quoted) {
                end
            } else {
                // No record ends in this block: keep reading into it.
                carry = data;
                continue;
            };
            carry = data[end..].to_vec();
            data.truncate(end);
            if !data.is_empty() {
                let lines = count_lines(&data);
                send(
                    tx,
                    seq,
                    Block {
                        file,
                        first_line: line,
                        data,
                    },
                );
                seq += 1;
                line += lines;
            }
            if eof {
                break;
            }
        }
    }
    Ok(())
}

fn send(tx: &mpsc::SyncSender<(u64, Block)>, seq: u64, block: Block) {
    // A closed channel means every worker has stopped; the workers' errors say why.
    let _ = tx.send((seq, block));
}

fn read_full(path: &Path, reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => bail!("cannot read data file '{}': {e}", path.display()),
        }
    }
    Ok(got)
}

fn count_lines(data: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', data).count() as u64
}

/// The end (just past the newline) of the last whole record: the last newline outside a
/// quoted field when fields may be quoted.
fn last_record_end(data: &[u8], quoted: bool) -> Option<usize> {
    if !quoted || memchr::memchr(b'"', data).is_none() {
        return memchr::memrchr(b'\n', data).map(|i| i + 1);
    }
    let mut inside = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', data) {
        if data[i] == b'"' {
            inside = !inside;
        } else if !inside {
            last = Some(i + 1);
        }
    }
    last
}

/// The offset of the quote that opens a field never closed by the end of `data`, if any.
fn unclosed_quote(data: &[u8]) -> Option<usize> {
    let mut open = None;
    for i in memchr::memchr_iter(b'"', data) {
        open = if open.is_some() { None } else { Some(i) };
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_outside_quotes() {
        assert_eq!(last_record_end(b"a\nb\nc", true), Some(4));
        assert_eq!(last_record_end(b"a\n\"b\nc", true), Some(2));
        assert_eq!(last_record_end(b"a\n\"b\nc\"\n", true), Some(8));
        assert_eq!(last_record_end(b"abc", false), None);
    }
}

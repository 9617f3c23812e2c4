//! Rendering for people: comfy-table tables in one house style.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressStyle};

use embplan::plan::PlannedFeature;
use embplan::size::group_thousands;

/// A new table in the house style (UTF-8 borders, wraps to the terminal width).
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    table
}

/// A metric that may be undefined (an AUC on one class) with 4 decimals, or `n/a`.
pub fn metric4(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"))
}

/// Right-aligns the given columns (numbers).
pub fn align_right(table: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = table.column_mut(c) {
            col.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
}

/// A feature's tables for people, e.g. `4×16 + 2,532,807×16`.
pub fn table_shapes(f: &PlannedFeature) -> String {
    let shapes: Vec<String> = f
        .tables()
        .iter()
        .map(|t| format!("{}×{}", group_thousands(t.rows), t.dim))
        .collect();
    shapes.join(" + ")
}

/// A spinner with elapsed time on standard error for work of unknown length, hidden when
/// stderr is not a terminal or with `--quiet`.
pub fn spinner(message: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() || crate::cli::quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A progress bar on standard error with `template`, hidden when stderr is not a terminal.
pub fn progress_bar(template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || crate::cli::quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

//! Every integration test in one binary (as ripgrep and fd do), so `cargo test` links once:
//! each module runs the `embplan` binary (or the library's exports) for one area.

mod common;
mod devices_cli;
mod export_cli;
mod export_formats;
mod foundation_cli;
mod hardening_cli;
mod plan_cli;
mod plot_cli;
mod profile_cli;
mod sweep_cli;
mod torchrec_train;
mod train_cli;

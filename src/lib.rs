//! embplan: plan memory-efficient compositional embedding tables from complementary partitions.
//!
//! Data flows one way: [`schema`] → [`partition`] → [`proof`] and [`cost`] → [`plan`] →
//! export / train → report / plot. The library knows nothing of terminals: the `embplan`
//! binary (`src/main.rs` and `src/cli/`, which the library does not contain) parses
//! arguments, calls it and renders.

pub mod calibrate;
pub mod columnar;
pub mod cost;
pub mod export;
pub mod family;
pub mod fit;
pub mod init;
pub mod memory;
pub mod output;
pub mod partition;
pub mod placement;
pub mod plan;
pub mod plot;
pub mod profile;
pub mod proof;
pub mod results;
pub mod schema;
pub mod size;
pub mod source;
pub mod sweep;
pub mod synth;
pub mod train;

//! Measuring categorical data: counts, sketches, vocabularies.

pub mod sketch;

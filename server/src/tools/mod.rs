//! Operator tools behind `sightline loadgen`, `bench`, `bench-queries`, `bench-noise`,
//! `bench-trivial`, `generate` and `demo`. Part of the binary only: the production library
//! (`sightline`) neither contains nor exports them, and they use it only through its public API.

pub mod bench;
pub mod demo;
pub mod generate;
pub mod loadgen;

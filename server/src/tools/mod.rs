//! Operator tools behind `sightline loadgen`, `bench`, `bench-queries`, `bench-noise`,
//! `bench-trivial`, `bench-enrich`, `generate` and `demo`, and the realistic audience
//! they share ([`mix`]). Part of the binary only: the production library
//! (`sightline`) neither contains nor exports them, and they use it only through its public API.

pub mod bench;
pub mod demo;
pub mod generate;
pub mod loadgen;
pub mod mix;

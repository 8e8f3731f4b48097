//! Sightline's fuzz targets and a small stable-Rust fuzzer to run them.
//!
//! [`targets`] holds one function per target: each takes arbitrary bytes and panics when a
//! property fails (a panic in the product's code is a failure too). [`engine`] runs a target for
//! a bounded time on inputs drawn from a seeded random generator: fresh random bytes, and
//! mutations (bit flips, splices, JSON tokens from the target's dictionary) of its seed corpus
//! and of earlier inputs. It has no coverage feedback, which is what cargo-fuzz on nightly adds
//! (fuzz/libfuzzer wraps the same functions); in exchange it builds on stable, so every CI run
//! builds and runs every target (`./scripts/test`, 30 s each).

pub mod engine;
pub mod targets;

/// A target: its name, the function, a seed corpus and a dictionary of tokens to splice in.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub seeds: fn() -> Vec<Vec<u8>>,
    pub dictionary: &'static [&'static str],
}

/// Every target, in the order `fuzz-run` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "ingest_batch",
        run: targets::ingest_batch,
        seeds: targets::ingest_batch_seeds,
        dictionary: targets::JSON_TOKENS,
    },
    Target {
        name: "job_decode",
        run: targets::job_decode,
        seeds: targets::job_decode_seeds,
        dictionary: targets::JSON_TOKENS,
    },
    Target {
        name: "graphql_inputs",
        run: targets::graphql_inputs,
        seeds: targets::graphql_inputs_seeds,
        dictionary: targets::JSON_TOKENS,
    },
    Target {
        name: "tracker_json",
        run: targets::tracker_json,
        seeds: targets::tracker_json_seeds,
        dictionary: targets::TEXT_TOKENS,
    },
];

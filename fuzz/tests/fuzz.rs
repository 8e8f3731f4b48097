//! Each fuzz target as a test, so CI builds and runs every one with the workspace's build (no
//! second compilation of the dependencies): `FUZZ_SECS` seconds each (2 when unset, a smoke
//! run; `./scripts/test` sets 30 and runs them one at a time). `FUZZ_SEED` fixes the inputs.

use std::time::Duration;

use sightline_fuzz::{engine, TARGETS};

fn fuzz(name: &str) {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let secs: u64 = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let out = engine::run(target, seed, Duration::from_secs(secs));
    if let Some((input, message)) = out.failure {
        panic!(
            "fuzz {name} failed after {} inputs (FUZZ_SEED={seed}): {message}\n  input ({} bytes): {:?}\n  \
             save it and replay: cargo run -p sightline-fuzz --bin fuzz-run -- --replay FILE {name}",
            out.executions,
            input.len(),
            String::from_utf8_lossy(&input)
        );
    }
    println!(
        "fuzz {name}: {} inputs in {secs} s, no failure (FUZZ_SEED={seed})",
        out.executions
    );
}

#[test]
fn fuzz_ingest_batch() {
    fuzz("ingest_batch");
}

#[test]
fn fuzz_job_decode() {
    fuzz("job_decode");
}

#[test]
fn fuzz_graphql_inputs() {
    fuzz("graphql_inputs");
}

#[test]
fn fuzz_tracker_json() {
    fuzz("tracker_json");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    let me = include_str!("fuzz.rs");
    for n in names {
        assert!(me.contains(&format!("fn fuzz_{n}()")), "no test runs {n}");
    }
}

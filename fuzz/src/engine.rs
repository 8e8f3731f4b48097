//! The bounded, seeded fuzz loop: inputs from a deterministic generator, each run under
//! `catch_unwind`, the first failing input saved and reported with what replays it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::Target;

/// Most inputs kept as material for further mutation (without coverage feedback, a random
/// sample of earlier mutants keeps inputs drifting away from the seeds).
const POOL: usize = 1024;
/// Longest input generated.
const MAX_LEN: usize = 4096;

/// How a run ended.
pub struct Outcome {
    pub executions: u64,
    /// The input that failed, with the panic message.
    pub failure: Option<(Vec<u8>, String)>,
}

/// Runs `target` for `budget`, or until it fails, on inputs derived from `seed`.
pub fn run(target: &Target, seed: u64, budget: Duration) -> Outcome {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut pool: Vec<Vec<u8>> = (target.seeds)();
    let started = Instant::now();
    let mut executions = 0u64;
    // The seeds themselves first, then generated inputs.
    let mut queue: Vec<Vec<u8>> = pool.clone();
    while started.elapsed() < budget {
        let input = queue
            .pop()
            .unwrap_or_else(|| next_input(&mut rng, &pool, target));
        executions += 1;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (target.run)(&input))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            return Outcome {
                executions,
                failure: Some((input, message)),
            };
        }
        if rng.gen_ratio(1, 16) {
            if pool.len() < POOL {
                pool.push(input);
            } else {
                let i = rng.gen_range(0..pool.len());
                pool[i] = input;
            }
        }
    }
    Outcome {
        executions,
        failure: None,
    }
}

fn next_input(rng: &mut SmallRng, pool: &[Vec<u8>], target: &Target) -> Vec<u8> {
    if pool.is_empty() || rng.gen_ratio(1, 20) {
        let len = rng.gen_range(0..256);
        return (0..len).map(|_| rng.gen()).collect();
    }
    let mut data = pool[rng.gen_range(0..pool.len())].clone();
    for _ in 0..rng.gen_range(1..=8) {
        mutate(rng, &mut data, pool, target.dictionary);
    }
    data.truncate(MAX_LEN);
    data
}

/// One random edit, of the kinds libFuzzer's mutator makes.
fn mutate(rng: &mut SmallRng, data: &mut Vec<u8>, pool: &[Vec<u8>], dictionary: &[&str]) {
    let at = |rng: &mut SmallRng, len: usize| rng.gen_range(0..=len);
    match rng.gen_range(0..9) {
        0 if !data.is_empty() => {
            let i = rng.gen_range(0..data.len());
            data[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if !data.is_empty() => {
            let i = rng.gen_range(0..data.len());
            data[i] = rng.gen();
        }
        2 if !data.is_empty() => {
            let i = rng.gen_range(0..data.len());
            let n = rng.gen_range(1..=(data.len() - i).min(16));
            data.drain(i..i + n);
        }
        3 => {
            let i = at(rng, data.len());
            let b: u8 = rng.gen();
            data.insert(i, b);
        }
        4 | 5 if !dictionary.is_empty() => {
            let token = dictionary[rng.gen_range(0..dictionary.len())];
            let i = at(rng, data.len());
            data.splice(i..i, token.bytes());
        }
        6 if !data.is_empty() => {
            // Repeat a slice (nesting, long strings).
            let i = rng.gen_range(0..data.len());
            let n = rng.gen_range(1..=(data.len() - i).min(32));
            let copy: Vec<u8> = data[i..i + n].to_vec();
            for _ in 0..rng.gen_range(1..64) {
                data.splice(i..i, copy.iter().copied());
            }
        }
        7 if !pool.is_empty() => {
            // Splice in part of another input.
            let other = &pool[rng.gen_range(0..pool.len())];
            if !other.is_empty() {
                let s = rng.gen_range(0..other.len());
                let n = rng.gen_range(1..=(other.len() - s).min(64));
                let i = at(rng, data.len());
                data.splice(i..i, other[s..s + n].iter().copied());
            }
        }
        _ if !data.is_empty() => {
            // An interesting byte: a quote, a backslash, a NUL, a UTF-8 lead or continuation.
            let i = rng.gen_range(0..data.len());
            data[i] =
                [b'"', b'\\', 0, 0xc3, 0x80, 0xed, 0xf0, 0xff, b'{', b'}'][rng.gen_range(0..10)];
        }
        _ => data.push(rng.gen()),
    }
}

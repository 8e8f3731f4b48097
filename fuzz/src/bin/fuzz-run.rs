//! `fuzz-run [--secs N] [--seed S] [TARGET...]`: runs each fuzz target (all by default) for N
//! seconds (30) on inputs from seed S (random, printed). `fuzz-run --replay FILE TARGET` runs
//! one saved input. Exits 1 on the first failure, saving the input under fuzz/artifacts/.

use std::path::PathBuf;
use std::time::Duration;

use sightline_fuzz::{engine, Target, TARGETS};

fn usage() -> ! {
    eprintln!("usage: fuzz-run [--secs N] [--seed S] [TARGET...] | --replay FILE TARGET");
    std::process::exit(2)
}

fn target(name: &str) -> &'static Target {
    TARGETS.iter().find(|t| t.name == name).unwrap_or_else(|| {
        let names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("no fuzz target {name:?}; targets: {}", names.join(", "));
        std::process::exit(2)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut secs, mut seed, mut names) = (30u64, rand::random::<u64>(), Vec::new());
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--secs" => secs = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => seed = value().parse().unwrap_or_else(|_| usage()),
            "--replay" => {
                let file = value();
                let t = target(&value());
                let input = std::fs::read(&file).unwrap_or_else(|e| {
                    eprintln!("{file}: {e}");
                    std::process::exit(2)
                });
                (t.run)(&input);
                println!("{}: {file} passes", t.name);
                return;
            }
            "-h" | "--help" => usage(),
            name => names.push(target(name)),
        }
    }
    if names.is_empty() {
        names = TARGETS.iter().collect();
    }
    // The panic message is printed by the report below, once, with its input.
    std::panic::set_hook(Box::new(|_| {}));
    for t in names {
        let out = engine::run(t, seed, Duration::from_secs(secs));
        match out.failure {
            None => println!(
                "fuzz {}: {} inputs in {secs} s, no failure (seed {seed})",
                t.name, out.executions
            ),
            Some((input, message)) => {
                let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("{}-{seed}", t.name));
                let _ = std::fs::write(&file, &input);
                eprintln!(
                    "fuzz {} FAILED after {} inputs (seed {seed}): {message}\n  input ({} bytes): {:?}\n  replay: cargo run -p sightline-fuzz --bin fuzz-run -- --replay {} {}",
                    t.name,
                    out.executions,
                    input.len(),
                    String::from_utf8_lossy(&input),
                    file.display(),
                    t.name
                );
                std::process::exit(1);
            }
        }
    }
}

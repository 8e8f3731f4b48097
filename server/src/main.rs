//! The `sightline` binary: the command line ([`cli`], one file per command group) and the
//! operator tools ([`tools`]: load generator, benchmark, data generator, demo site), which the
//! `sightline` library does not export.

mod cli;
mod tools;

use clap::Parser;

// The ingest and worker paths allocate many small JSON values; glibc malloc spent ~40% of the
// server's CPU in a profile at 35k events/s, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    no_transparent_huge_pages();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sightline: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(cli::run(cli)) {
        // One clear line; details are in the logs.
        eprintln!("sightline: {e:#}");
        std::process::exit(1);
    }
}

/// Opts this process out of transparent huge pages, before the runtime's threads allocate.
///
/// mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`), so every first touch of a fresh
/// 2 MiB region faults in and zeroes all of it, however little is used; the worker's batches
/// churn through memory and paid for that again and again: `clear_page_erms` was a third of
/// the worker's CPU in a profile at 8,000 beacons/s, and opting out cut the worker's CPU per
/// event by 40% (docs/BENCHMARKS.md, "Transparent huge pages"). Not fatal when refused: it only
/// costs CPU.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

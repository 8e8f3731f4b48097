use clap::Parser;

// The ingest and worker paths allocate many small JSON values; glibc malloc spent ~40% of the
// server's CPU in a profile at 35k events/s, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = sightline::cli::Cli::parse();
    if let Err(e) = sightline::cli::run(cli).await {
        // One clear line; details are in the logs.
        eprintln!("sightline: {e:#}");
        std::process::exit(1);
    }
}

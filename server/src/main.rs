use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = sightline::cli::Cli::parse();
    if let Err(e) = sightline::cli::run(cli).await {
        // One clear line; details are in the logs.
        eprintln!("sightline: {e:#}");
        std::process::exit(1);
    }
}

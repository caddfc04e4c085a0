//! The `spikegrad` command: train, evaluate and plot spiking networks.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    cli::init_logging();
    if let Err(e) = cli::run(args) {
        // One line naming the problem (the error chain joined by ": "), non-zero exit.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

//! The `spikegrad` command as a library: [`run_command_line`] is the binary, and [`api`] holds
//! the calls that the Python package shares with it, so both give the same results and the
//! same error messages.

pub mod api;
mod cli;

use clap::Parser;

/// Parses the process's arguments and runs the command. On failure prints one line naming
/// the problem (the error chain joined by ": ") and returns a non-zero exit status.
pub fn run_command_line() -> i32 {
    let args = cli::Cli::parse();
    cli::init_logging();
    match cli::run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

//! The `irc` command-line tool.

mod bench;
mod cli;
mod commands;
mod compile;
mod error;
mod load;
mod opt;
mod report;
mod search;
mod selftest;
mod train;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

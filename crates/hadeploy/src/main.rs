//! The `hadeploy` command; everything it does lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hadeploy::run(hadeploy::Cli::parse())
}

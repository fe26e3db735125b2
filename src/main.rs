//! The `ferry` binary: parses the command line and hands it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ferry::cli::run(ferry::cli::Cli::parse())
}

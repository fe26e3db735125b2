//! The `ferry` binary: parses the command line and hands it to the library.

use clap::Parser;
use ferry::cli::Cli;

/// The command line is parsed on a thread of its own: clap's derived
/// parser builds `serve`'s arguments in two frames of 190 KiB together,
/// every page of them written (stack probes), and the main thread's stack
/// never gives a page back, so on it they stayed resident for the
/// server's life (the main thread runs the first worker): 0.18 MiB of the
/// embedded build's 2.45 MiB idle (docs/operating.md, "Footprint"). A
/// thread's stack goes when the thread ends. Errors and `--help` exit
/// from that thread as they would from this one; without a thread to be
/// had, the parse runs here.
fn main() -> std::process::ExitCode {
    let parsed = match std::thread::Builder::new().spawn(Cli::parse) {
        Ok(thread) => thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(_) => Cli::parse(),
    };
    ferry::cli::run(parsed)
}

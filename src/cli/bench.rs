//! `ferry bench`: flags and output of the load generator in `crate::bench`.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::args::ConnectionArgs;
use super::lines::{print_line, to_stderr};
use super::output::{Output, ProgressMode};
use super::{parse_seconds, parse_size};
use crate::bench::{self, BenchConfig, Op};

/// Flags of `ferry bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Connections held open at once.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Request to repeat: get, put or echo.
    #[arg(long, value_enum, default_value = "get")]
    op: Op,
    /// Body size in bytes (suffixes K, M, G allowed).
    #[arg(long, default_value = "4K", value_parser = parse_size)]
    size: u64,
    /// Seconds to measure.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pipeline: u32,
    /// PUT each connection's file into a folder of its own, as a fleet of
    /// clients with a folder each does (else all go to one folder, where
    /// the kernel makes their creates and renames take turns).
    #[arg(long)]
    folder_per_connection: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints its report.
pub fn run(args: BenchArgs) -> ExitCode {
    let name = match args.connection.address() {
        Ok(name) => name,
        Err(failure) => return super::report(Err(failure)),
    };
    let server: SocketAddr = match name.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        _ => {
            to_stderr(&format!("ferry: cannot resolve {name}"));
            return ExitCode::from(3);
        }
    };
    // The client's warnings (a silent TLS port, say) for the set-up
    // connection, which is the client's own.
    Output::new(ProgressMode::Never, false).install_log(false);
    let endpoint = match args.connection.endpoint() {
        Ok(endpoint) => endpoint,
        Err(failure) => return super::report(Err(failure)),
    };
    let config = BenchConfig {
        server,
        endpoint,
        connections: args.connections.max(1),
        op: args.op,
        size: args.size,
        duration: args.duration,
        pipeline: args.pipeline,
        folder_per_connection: args.folder_per_connection,
        live: !args.json && std::io::stderr().is_terminal(),
    };
    match bench::run(&config) {
        Ok(report) => {
            if args.json {
                print_line(&report.to_json(&config));
            } else {
                print_line(&report.to_text(&config));
            }
            if report.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => super::report(Err(super::Failure::new(
            format!("bench against {name}"),
            err,
        ))),
    }
}

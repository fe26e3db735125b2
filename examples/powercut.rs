//! The power-cut simulator, by hand: mounts a FUSE file system at
//! MOUNTPOINT that shows BACKING and remembers what has been flushed, so
//! that a power cut loses what a real disk would (docs/reliability.md,
//! "Power cuts").
//!
//! ```text
//! cargo run --example powercut -- MOUNTPOINT BACKING [--seed N]
//! kill -USR1 <pid>   cut the power: every call on the mount fails with EIO from now on
//! kill -TERM <pid>   unmount (stop what uses the mount first); after a cut, BACKING is
//!                    rolled back to what was durable, else everything is kept
//! ```
//!
//! `--seed N` turns on partial writeback: a cut keeps a random prefix
//! (drawn from N) of each file's unflushed writes instead of none.

#[path = "../tests/support/powercut/mod.rs"]
mod powercut;

use std::path::PathBuf;
use std::process::ExitCode;

use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

const USAGE: &str = "usage: powercut MOUNTPOINT BACKING [--seed N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mountpoint, backing, seed) = match args.as_slice() {
        [m, b] => (PathBuf::from(m), PathBuf::from(b), None),
        [m, b, flag, n] if flag == "--seed" => match n.parse() {
            Ok(n) => (PathBuf::from(m), PathBuf::from(b), Some(n)),
            Err(_) => return fail(USAGE),
        },
        _ => return fail(USAGE),
    };
    if let Some(why) = powercut::unavailable() {
        return fail(&format!("cannot mount here: {why}"));
    }
    // Installed before the mount: a signal never finds the default action.
    let mut signals = match Signals::new([SIGUSR1, SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(err) => return fail(&format!("signals: {err}")),
    };
    let sim = match powercut::Simulator::mount(&mountpoint, &backing, seed) {
        Ok(sim) => sim,
        Err(err) => return fail(&format!("cannot mount {}: {err}", mountpoint.display())),
    };
    let pid = std::process::id();
    println!(
        "powercut: {} shows {}; kill -USR1 {pid} cuts the power, kill -TERM {pid} unmounts",
        sim.mountpoint().display(),
        backing.display()
    );
    for signal in signals.forever() {
        if signal != SIGUSR1 {
            break;
        }
        sim.cut();
        println!("powercut: power cut; stop what uses the mount, then kill -TERM {pid}");
    }
    match sim.stop() {
        Ok(None) => println!("powercut: unmounted, everything kept"),
        Ok(Some(lost)) => println!(
            "powercut: unmounted and rolled back to the durable image: {} files lost unflushed \
             bytes ({} of {} writes kept), {} directories lost unflushed entries",
            lost.files, lost.writes_kept, lost.writes, lost.dirs
        ),
        Err(err) => return fail(&format!("stop: {err}")),
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("powercut: {message}");
    ExitCode::from(2)
}

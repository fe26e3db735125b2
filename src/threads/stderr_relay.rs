//! Keeps the server's standard error writable whatever is behind it, so
//! that logging never takes the server down.
//!
//! The logger (`simple_logger`) writes with `eprintln!`, which panics when
//! the write fails, and a release build aborts on a panic: `ferry serve
//! 2>&1 | tee log`, then Ctrl-C, killed `tee` first and the server with it
//! (exit 134, transfers cut). So `ferry serve` puts a pipe in place of file
//! descriptor 2 before anything logs, and a thread of its own relays what
//! arrives there to the real standard error. Writes to the pipe never fail
//! while the relay reads it; when the real destination fails (`EPIPE`,
//! `EIO`, a full disk), the relay drops those bytes, counts them
//! (`ferry_log_bytes_dropped_total`) and reads on. A write to the pipe
//! waits only as a write to a slow terminal always did, and lines of at
//! most `PIPE_BUF` bytes stay whole (the access log relies on it).
//!
//! [`StderrRelay::finish`] puts the real standard error back and waits for
//! the relay to pass on what is left, so no last line is lost at exit.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Bytes of log output the real standard error did not take.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Bytes of log output dropped since the process started.
pub fn dropped_bytes() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// The relay in place of file descriptor 2.
#[derive(Debug)]
pub struct StderrRelay {
    /// The real standard error, to put back at the end.
    real: OwnedFd,
    relay: JoinHandle<()>,
}

impl StderrRelay {
    /// Puts a pipe in place of file descriptor 2 and starts the thread that
    /// relays it to the real standard error.
    ///
    /// # Errors
    /// Out of descriptors, or no thread could start (nothing is changed).
    pub fn install() -> io::Result<StderrRelay> {
        let real = rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stderr(), 3)?;
        let destination = File::from(rustix::io::fcntl_dupfd_cloexec(&real, 3)?);
        let (source, sink) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let relay = std::thread::Builder::new()
            .name("ferry-stderr".into())
            .stack_size(crate::threads::crew::STACK)
            .spawn(move || relay(File::from(source), destination))?;
        // Descriptor 2 is now the pipe (without close-on-exec, as stderr
        // always is); `sink` itself is closed here.
        let _ = io::stderr().flush();
        rustix::stdio::dup2_stderr(sink.as_fd())?;
        Ok(StderrRelay { real, relay })
    }

    /// Puts the real standard error back and waits until the relay has
    /// passed on everything written before.
    pub fn finish(self) {
        // The pipe's last writer was descriptor 2: the relay reads to the
        // end of what is in it, then sees the end of the stream.
        if rustix::stdio::dup2_stderr(self.real.as_fd()).is_ok() {
            let _ = self.relay.join();
        }
    }
}

/// Copies `source` to `destination` until the pipe ends; what the
/// destination refuses is counted and dropped.
fn relay(mut source: File, mut destination: File) {
    let mut buffer = vec![0; 64 * 1024];
    let mut failing = false;
    loop {
        let n = match source.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        match destination.write_all(&buffer[..n]) {
            Ok(()) => failing = false,
            Err(err) => {
                DROPPED.fetch_add(n as u64, Ordering::Relaxed);
                if !failing {
                    failing = true;
                    // Said where it can be: the real destination may take
                    // a short line later (a full disk that has room again).
                    let _ = writeln!(
                        destination,
                        "ferry: standard error failed ({err}); log output is dropped and counted in ferry_log_bytes_dropped_total"
                    );
                }
            }
        }
    }
}

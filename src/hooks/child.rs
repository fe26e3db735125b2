//! One hook's run: spawn the command with the upload's facts in its
//! environment, keep the start of its stderr, kill it at the time limit,
//! and say how it ended. Blocks for as long as the hook runs: only the
//! runner's threads call it.
//!
//! The child gets stdin from `/dev/null`, its stdout goes to `/dev/null`,
//! and it inherits no socket of the server's (every descriptor ferry opens
//! is close-on-exec: std's, mio's, the listeners of `listen.rs` and those
//! systemd passes, see `server/systemd.rs`). It runs in a process group of
//! its own, so that the kill at the time limit reaches what a hook script
//! started too, and a Ctrl-C meant for the server does not reach it.

use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use rustix::event::{PollFd, PollFlags, Timespec};

use super::{Facts, HookCommand, Verdict};

/// How much of a hook's stderr is kept for the log; the rest is read and
/// dropped (a hook that writes without end must not block on a full pipe,
/// nor fill the server's memory).
pub const STDERR_KEPT: usize = 4 * 1024;

/// How often a run checks on its child where the kernel cannot signal its
/// exit on a descriptor (no `pidfd_open`: before Linux 5.3, or filtered).
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// Most bytes read from a hook's stderr after it has exited: a process it
/// left behind may hold the pipe open and keep writing.
const DRAIN_AFTER_EXIT: usize = 64 * 1024;

/// How a hook's run ended.
#[derive(Debug)]
pub struct Ran {
    /// Its exit status; `None` if it could not be started or waited for.
    pub status: Option<ExitStatus>,
    /// It ran past the time limit and was killed.
    pub timed_out: bool,
    /// Why it could not be started (or waited for).
    pub error: Option<String>,
    /// The first [`STDERR_KEPT`] bytes of its stderr.
    pub stderr: Vec<u8>,
    /// Its stderr was longer than what is kept.
    pub truncated: bool,
    /// How long it ran.
    pub took: Duration,
}

impl Ran {
    /// Whether it exited 0 in time.
    pub fn succeeded(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    /// What a before-commit hook's end means for the upload.
    pub fn verdict(&self) -> Verdict {
        match (&self.error, self.timed_out, self.succeeded()) {
            (Some(err), _, _) => Verdict::Failed(err.clone()),
            (None, true, _) => Verdict::Refuse("before-commit hook timed out".into()),
            (None, false, true) => Verdict::Accept,
            (None, false, false) => Verdict::Refuse("refused by the before-commit hook".into()),
        }
    }

    /// How it ended, in words for the log.
    fn ending(&self, timeout: Duration) -> String {
        if let Some(err) = &self.error {
            return format!("could not run: {err}");
        }
        if self.timed_out {
            return format!("killed after the {}s time limit", timeout.as_secs_f64());
        }
        match self.status {
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => format!("ended: {status}"),
            },
            None => "ended unseen".into(),
        }
    }

    /// Logs how it ended, with its stderr: `debug` for a silent success
    /// (one line per upload is the access log's job), `info` for one that
    /// said something on stderr, `warn` for anything else (a veto is a
    /// refusal the operator asked for, but one to hear about). `timeout` is
    /// the limit it had.
    pub fn log(&self, facts: &Facts, timeout: Duration) {
        let stderr = match self.stderr.is_empty() {
            true => String::new(),
            false => format!(
                "; stderr{}: {:?}",
                if self.truncated { " (first 4 KiB)" } else { "" },
                String::from_utf8_lossy(&self.stderr).trim_end()
            ),
        };
        let line = format!(
            "#{} {} hook for {:?} {} in {:.3}s{stderr}",
            facts.client,
            facts.event.as_str(),
            facts.name,
            self.ending(timeout),
            self.took.as_secs_f64()
        );
        match (self.succeeded(), self.stderr.is_empty()) {
            (true, true) => debug!("{line}"),
            (true, false) => info!("{line}"),
            (false, _) => warn!("{line}"),
        }
    }
}

/// Runs `command` for `facts` and waits for it, at most `timeout`.
pub fn run(command: &HookCommand, facts: &Facts, timeout: Duration) -> Ran {
    let started = Instant::now();
    let mut ran = Ran {
        status: None,
        timed_out: false,
        error: None,
        stderr: Vec::new(),
        truncated: false,
        took: Duration::ZERO,
    };
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    // Only the documented variables are FERRY_*: none the server was
    // started with (a token, the unit's FERRY_ROOT) can pose as a fact.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FERRY_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(
        facts
            .vars()
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value)),
    );
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            ran.error = Some(format!("{}: {err}", command.program.display()));
            ran.took = started.elapsed();
            return ran;
        }
    };
    match watch(&mut child, started + timeout, &mut ran) {
        Ok(status) => ran.status = status,
        Err(err) => {
            kill(&mut child);
            ran.error = Some(format!("waiting for it failed: {err}"));
        }
    }
    ran.took = started.elapsed();
    ran
}

/// Reads the child's stderr and waits for it to exit, or kills it at
/// `deadline`; `None` for a child killed at the deadline.
fn watch(
    child: &mut Child,
    deadline: Instant,
    ran: &mut Ran,
) -> std::io::Result<Option<ExitStatus>> {
    let mut stderr = child.stderr.take();
    let pid = rustix::process::Pid::from_child(child);
    // Readable once the child has exited.
    let exited = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(status) = child.try_wait()? {
            if let Some(pipe) = stderr.take() {
                drain(pipe, &mut chunk, ran);
            }
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            kill(child);
            ran.timed_out = true;
            return Ok(None);
        }
        let mut wait = deadline - now;
        if exited.is_none() {
            wait = wait.min(CHECK_EVERY);
        }
        let mut fds = Vec::with_capacity(2);
        if let Some(pipe) = &stderr {
            fds.push(PollFd::new(pipe, PollFlags::IN));
        }
        if let Some(fd) = &exited {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(errno) => return Err(errno.into()),
        }
        let pipe_ready = stderr.is_some() && !fds[0].revents().is_empty();
        drop(fds);
        if pipe_ready && let Some(pipe) = &mut stderr {
            match pipe.read(&mut chunk) {
                Ok(0) => stderr = None, // closed: only the exit is left
                Ok(n) => keep(&chunk[..n], ran),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => stderr = None,
            }
        }
    }
}

/// Reads what is left in a hook's stderr after it exited, without waiting
/// for a process it left behind that holds the pipe open.
fn drain(pipe: ChildStderr, chunk: &mut [u8], ran: &mut Ran) {
    if rustix::io::ioctl_fionbio(pipe.as_fd(), true).is_err() {
        return;
    }
    let mut pipe = pipe;
    let mut read = 0;
    while read < DRAIN_AFTER_EXIT {
        match pipe.read(chunk) {
            Ok(0) => return,
            Ok(n) => {
                read += n;
                keep(&chunk[..n], ran);
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return, // WouldBlock: nothing more now
        }
    }
}

/// Keeps the start of a hook's stderr, up to [`STDERR_KEPT`] bytes.
fn keep(bytes: &[u8], ran: &mut Ran) {
    let room = STDERR_KEPT - ran.stderr.len();
    if bytes.len() > room {
        ran.truncated = true;
    }
    ran.stderr
        .extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Kills the child's whole process group and reaps the child.
fn kill(child: &mut Child) {
    let pid = rustix::process::Pid::from_child(child);
    if let Err(err) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        warn!("could not kill hook process group {}: {err}", child.id());
        let _ = child.kill();
    }
    if let Err(err) = child.wait() {
        warn!("could not reap hook process {}: {err}", child.id());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;

    fn run(command: &str, timeout: Duration) -> Ran {
        super::run(&HookCommand::parse(command).unwrap(), &facts(), timeout)
    }

    #[test]
    fn how_a_hook_ends_is_its_verdict() {
        let long = Duration::from_secs(60);
        assert_eq!(run("/bin/true", long).verdict(), Verdict::Accept);
        let refused = run("/bin/false", long);
        assert!(
            matches!(refused.verdict(), Verdict::Refuse(_)),
            "{refused:?}"
        );
        let missing = run("/nonexistent/hook", long);
        assert!(
            matches!(missing.verdict(), Verdict::Failed(_)),
            "{missing:?}"
        );
        // Never done in a tenth of a second, however fast the machine.
        let hung = run("/bin/sleep 100", Duration::from_millis(100));
        assert!(hung.timed_out, "{hung:?}");
        assert_eq!(
            hung.verdict(),
            Verdict::Refuse("before-commit hook timed out".into())
        );
    }

    #[test]
    fn stderr_is_kept_for_the_log() {
        let ran = run("/bin/ls /nonexistent-ferry-dir", Duration::from_secs(60));
        assert!(!ran.succeeded());
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert!(stderr.contains("nonexistent-ferry-dir"), "{stderr}");
        assert!(!ran.truncated);
    }
}

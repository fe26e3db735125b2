//! Ctrl-C (SIGINT) or SIGTERM during a download: the partial files of a
//! plain `get` or `get -r` are removed before the process ends, as docs/cli.md
//! promises ("a failed download leaves no local file behind"), and so are
//! the folders they made that are left empty. A `get --resume` never
//! registers its partial file, so it is kept; it and a `put --resume` say
//! in their last line how to go on ([`Kept`]).
//!
//! The signal is received on a thread of its own (signal-hook's iterator),
//! not in a signal handler, so removing files and taking a lock are safe
//! there. The process then exits with 128 + the signal's number, the shell
//! convention (130 for Ctrl-C).
//!
//! A reader that closes the client's stdout (`ferry ls -R | head -1`) ends
//! the command the same way too, with exit status 0 and nothing said, as
//! coreutils' `ls` does: see [`super::lines::stdout_failed`].
//!
//! `--max-time` ends the command the same way, from a timer thread: the
//! partial files go, and the process exits with 3, the code of a
//! connection failure (docs/cli.md, "Exit codes and errors"). A `get --resume`
//! registers its partial file as kept instead, so that the last line says
//! where it is and how to go on, as a failed connection's does.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Partial files to remove if the process is interrupted.
static PARTIAL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Folders the command made for its downloads, in the order made: on an
/// interrupt, those left empty are removed (last made first).
static MADE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// What a `--resume` transfer keeps for the next run, while it runs.
static KEPT: Mutex<Option<String>> = Mutex::new(None);

/// Says what a `--resume` transfer keeps, and that running the same
/// command again resumes it, in the line an interrupt or `--max-time`
/// ends the command with, for as long as it lives.
#[derive(Debug)]
pub struct Kept;

impl Kept {
    /// A `get --resume`: its partial file at `path`.
    pub fn download(path: &Path) -> Kept {
        Kept::keep(format!("partial download kept in {}", path.display()))
    }

    /// A `put --resume`: the bytes the server staged for its session.
    pub fn upload() -> Kept {
        Kept::keep("the server keeps the bytes it received".into())
    }

    fn keep(what: String) -> Kept {
        install();
        *KEPT.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
        Kept
    }
}

/// ` (<what is kept>: run the same command again to resume)`, or nothing.
fn resume_hint() -> String {
    KEPT.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|kept| format!(" ({kept}: run the same command again to resume)"))
        .unwrap_or_default()
}

/// Makes the folder `dir` and any of its parents missing, as
/// `fs::create_dir_all` does, remembering those it made: an interrupt
/// removes the ones it leaves empty.
///
/// # Errors
/// As `fs::create_dir_all`.
pub fn make_folders(dir: &Path) -> std::io::Result<()> {
    // (`components` drops a trailing `/`; a relative path ends in "".)
    let missing: Vec<&Path> = dir
        .components()
        .as_path()
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.is_dir())
        .collect();
    for folder in missing.into_iter().rev() {
        match std::fs::create_dir(folder) {
            Ok(()) => MADE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(folder.to_owned()),
            // Made meanwhile by another download of the same run.
            Err(_) if folder.is_dir() => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

impl Drop for Kept {
    fn drop(&mut self) {
        *KEPT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Removes its partial file on an interrupt for as long as it lives; drop
/// it once the file is renamed into place or removed.
#[derive(Debug)]
pub struct Discard {
    path: PathBuf,
}

impl Discard {
    /// Registers `path` to be removed on SIGINT or SIGTERM (installing the
    /// handler thread on first use).
    pub fn new(path: &Path) -> Discard {
        install();
        lock().push(path.to_owned());
        Discard {
            path: path.to_owned(),
        }
    }
}

impl Drop for Discard {
    fn drop(&mut self) {
        let mut partial = lock();
        if let Some(at) = partial.iter().position(|p| *p == self.path) {
            partial.swap_remove(at);
        }
    }
}

fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Without the handler an interrupt still ends the process, only
        // leaving the partial file: not worth failing the download for.
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("ferry-interrupt".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let hint = resume_hint();
                    let line = (!hint.is_empty()).then(|| format!("ferry: interrupted{hint}"));
                    sweep_and_exit(128 + signal, line.as_deref());
                }
            });
        drop(spawned);
    });
}

/// Ends the process with `code` once `after` has passed, removing partial
/// files first and printing `ferry: <what>: ...` on stderr.
pub fn give_up_after(after: Duration, what: String) {
    install();
    let spawned = std::thread::Builder::new()
        .name("ferry-max-time".into())
        .spawn(move || {
            std::thread::sleep(after);
            let line = format!(
                "ferry: {what}: gave up after --max-time {} s{}",
                after.as_secs_f64(),
                resume_hint()
            );
            sweep_and_exit(3, Some(&line));
        });
    // Without the timer the command runs unbounded, as without the option:
    // not worth failing for, but worth saying.
    if spawned.is_err() {
        say("ferry: warning: cannot start the --max-time timer");
    }
}

/// Removes the registered partial files, says `line`, and exits.
pub fn sweep_and_exit(code: i32, line: Option<&str>) -> ! {
    // Held until exit: no new partial file registers after the sweep.
    let partial = lock();
    for path in partial.iter() {
        let _ = std::fs::remove_file(path);
    }
    // Only an empty folder can be removed: one that holds anything (a
    // finished download, a file of someone else's) stays.
    let made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    for folder in made.iter().rev() {
        let _ = std::fs::remove_dir(folder);
    }
    if let Some(line) = line {
        say(line);
    }
    std::process::exit(code);
}

/// Writes `line` on stderr, or nothing if stderr cannot take it: as
/// `lines::to_stderr` does, here because the end of a command lies below
/// its output (lines.rs ends a command through [`sweep_and_exit`]).
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // Updates are single pushes and removals: a panic elsewhere cannot
    // leave the list half-changed.
    PARTIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

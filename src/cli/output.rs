//! What the client commands show besides their results: progress bars on
//! stderr (indicatif), warnings, the `--verbose` request log, and sizes and
//! times written for people.
//!
//! Bars are drawn only where someone watches them: when stderr is a
//! terminal, not with `--quiet`, or always with the hidden
//! `--progress=always` (for tests, which have no terminal). Every line
//! printed while bars are up goes through [`Output`], which lifts the bars
//! out of the way first, so lines and bars never tear each other.
//!
//! Lines themselves go out through [`super::lines`]. Only in a build
//! with the client (feature `client`).

use std::io::{self, Read, Write};

use super::lines::{one_line, print_line, to_stderr};

use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// One file: name, bar, bytes so far and in all, rate, time left. The bar
/// takes what the terminal's width leaves (names are cut to fit first, see
/// [`Output::fit`]), so a line never wraps.
const FILE_BAR: &str =
    "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}";
/// A batch: the same for all its bytes, then files done of all, and the
/// file that moved last.
const BATCH_BAR: &str = "total [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {prefix} files {msg}";
/// An upload's checksum, read before the upload can begin (the CRC-32C goes
/// in the request line).
const CHECKSUM_BAR: &str =
    "checksumming {msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}";
/// The terminal width assumed where none can be found out; also what
/// `--progress=always` draws for.
const DEFAULT_WIDTH: u16 = 120;

/// When to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always, even into a pipe (for tests).
    Always,
    /// Never.
    Never,
}

/// Progress bars and messages of one command.
#[derive(Debug, Clone)]
pub struct Output {
    bars: MultiProgress,
    quiet: bool,
    /// Most characters of a name on a bar's line.
    name_width: usize,
}

impl Output {
    /// Bars as `mode` says, none at all when `quiet`.
    pub fn new(mode: ProgressMode, quiet: bool) -> Output {
        let (target, width) = match mode {
            _ if quiet => (ProgressDrawTarget::hidden(), DEFAULT_WIDTH),
            ProgressMode::Never => (ProgressDrawTarget::hidden(), DEFAULT_WIDTH),
            ProgressMode::Auto => (ProgressDrawTarget::stderr(), stderr_width()),
            ProgressMode::Always => (
                ProgressDrawTarget::term_like_with_hz(Box::new(StderrTerm), 20),
                DEFAULT_WIDTH,
            ),
        };
        Output {
            bars: MultiProgress::with_draw_target(target),
            quiet,
            // A third of the line: the figures take some 50 columns, and
            // the bar should keep at least a few.
            name_width: usize::from(width / 3).clamp(12, 60),
        }
    }

    /// A bar for one file of `size` bytes: bytes, rate and time left.
    pub fn file_bar(&self, name: &str, size: u64) -> ProgressBar {
        let bar = self.pending_bar(name);
        self.reveal(&bar, size);
        bar
    }

    /// A bar for a file whose size is not known yet (a download before the
    /// server's answer): nothing is drawn until [`Output::reveal`].
    pub fn pending_bar(&self, name: &str) -> ProgressBar {
        let bar = ProgressBar::hidden();
        bar.set_style(style(FILE_BAR));
        bar.set_message(self.fit(name));
        bar
    }

    /// A bar for reading `size` bytes of `name` for its checksum.
    pub fn checksum_bar(&self, name: &str, size: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(size));
        bar.set_style(style(CHECKSUM_BAR));
        bar.set_message(self.fit(name));
        bar
    }

    /// `name` cut to fit on a bar's line: its end kept (the file's own
    /// name), the cut marked with `…`.
    pub fn fit(&self, name: &str) -> String {
        let name = one_line(name);
        let chars = name.chars().count();
        if chars <= self.name_width {
            return name.into_owned();
        }
        let kept: String = name.chars().skip(chars - (self.name_width - 1)).collect();
        format!("…{kept}")
    }

    /// Takes a bar off the screen for good.
    pub fn clear(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.bars.remove(bar);
    }

    /// Ends a bar: a finished one leaves the screen with the next line
    /// printed (the `stored ...` line says the same), instead of being
    /// drawn again below it; a failed one stays where it stopped.
    pub fn finish(&self, bar: &ProgressBar, ok: bool) {
        if ok {
            bar.finish();
            self.bars.remove(bar);
        } else {
            bar.abandon();
        }
    }

    /// Sets a pending bar's size and draws it from now on (again: no-op).
    pub fn reveal(&self, bar: &ProgressBar, size: u64) {
        bar.set_length(size);
        if bar.is_hidden() {
            self.bars.add(bar.clone());
        }
    }

    /// A bar for a whole batch: files done of `files`, bytes, rate, time left.
    pub fn batch_bar(&self, files: u64, bytes: u64) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new(bytes));
        bar.set_style(style(BATCH_BAR));
        bar.set_prefix(format!("0/{files}"));
        bar
    }

    /// A result line on stdout (not with `--quiet`).
    pub fn say(&self, line: &str) {
        if !self.quiet {
            self.bars.suspend(|| print_line(&one_line(line)));
        }
    }

    /// A `ferry: warning: ...` line on stderr (not with `--quiet`).
    pub fn warn(&self, line: &str) {
        if !self.quiet {
            self.bars
                .suspend(|| to_stderr(&format!("ferry: warning: {}", one_line(line))));
        }
    }

    /// A `ferry: ...` error line on stderr, even with `--quiet`.
    pub fn error(&self, line: &str) {
        self.bars
            .suspend(|| to_stderr(&format!("ferry: {}", one_line(line))));
    }

    /// Sends the client's log (retries; with `verbose`, every request and
    /// answer) to stderr, between the bars. Once per process.
    pub fn install_log(&self, verbose: bool) {
        let level = match (self.quiet, verbose) {
            (_, true) => log::LevelFilter::Debug,
            (true, false) => log::LevelFilter::Off,
            (false, false) => log::LevelFilter::Warn,
        };
        let logger = Logger {
            bars: self.bars.clone(),
        };
        if log::set_boxed_logger(Box::new(logger)).is_ok() {
            log::set_max_level(level);
        }
    }
}

/// Columns of the terminal on stderr, [`DEFAULT_WIDTH`] if it is none.
fn stderr_width() -> u16 {
    rustix::termios::tcgetwinsize(io::stderr())
        .ok()
        .map(|size| size.ws_col)
        .filter(|&cols| cols > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants above: an error is a bug caught by the
    // progress tests, and the default style is a fine fallback meanwhile.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Bytes read through it advance some bars.
pub struct Counted<'a, R> {
    inner: R,
    bars: &'a [&'a ProgressBar],
}

impl<'a, R> Counted<'a, R> {
    /// Counts what `inner` yields on every bar in `bars`.
    pub fn new(inner: R, bars: &'a [&'a ProgressBar]) -> Counted<'a, R> {
        Counted { inner, bars }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for bar in self.bars {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        for bar in self.bars {
            bar.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The `log` sink of the client commands: `ferry: ` lines between the bars.
struct Logger {
    bars: MultiProgress,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("ferry")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = record.args().to_string();
            self.bars
                .suspend(|| to_stderr(&format!("ferry: {}", one_line(&line))));
        }
    }

    fn flush(&self) {}
}

/// stderr as a terminal whether it is one or not, for `--progress=always`.
#[derive(Debug)]
struct StderrTerm;

impl StderrTerm {
    fn put(&self, text: &str) -> io::Result<()> {
        io::stderr().lock().write_all(text.as_bytes())
    }
}

impl TermLike for StderrTerm {
    fn width(&self) -> u16 {
        120
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, line: &str) -> io::Result<()> {
        self.put(&format!("{line}\n"))
    }

    fn write_str(&self, text: &str) -> io::Result<()> {
        self.put(text)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.put("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `bytes` for people: `512 B`, `1.2 KiB`, `3.0 MiB`, `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A Unix time in the local time zone, e.g. `2026-11-21 13:00:03 +01:00`;
/// UTC (`... +00:00`) where the zone cannot be found out.
pub fn local_time(unix_seconds: i64) -> String {
    let format = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    local(unix_seconds)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

/// A Unix time in the local time zone, to the minute, for tables:
/// `2026-11-21 13:00`.
pub fn local_minute(unix_seconds: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]");
    local(unix_seconds)
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

fn local(unix_seconds: i64) -> Option<OffsetDateTime> {
    let utc = OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
    // The local offset is only available while the process has one thread
    // (the time crate's guard against racing setenv); UTC otherwise.
    let offset = UtcOffset::local_offset_at(utc).unwrap_or(UtcOffset::UTC);
    Some(utc.to_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1_258_291), "1.2 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn templates_parse() {
        for template in [FILE_BAR, BATCH_BAR, CHECKSUM_BAR] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}

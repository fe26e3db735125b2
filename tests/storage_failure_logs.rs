//! How loudly a storage failure is logged (issue 31), over real sockets:
//! a warning the first time, an error when the same kind comes again
//! within a minute, and, within ten seconds of that error line, a debug
//! line only (the count in `ferry_storage_failures_total` has them all).
//! A test binary of its own: it installs the process's logger to read the
//! levels, before any server starts, and the rule's memory is the
//! process's.

mod support;

use std::sync::{Arc, Mutex};

use ferry::storage::gate::{Gate, Point};
use rustix::io::Errno;
use support::TestServer;

/// Keeps every log record's level and text.
struct Captured(Mutex<Vec<(log::Level, String)>>);

impl log::Log for &'static Captured {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        self.0.lock().unwrap().push((record.level(), line));
    }

    fn flush(&self) {}
}

#[test]
fn a_storage_failure_is_a_warning_then_an_error_then_quiet() {
    let captured: &'static Captured = Box::leak(Box::new(Captured(Mutex::new(Vec::new()))));
    log::set_boxed_logger(Box::new(captured)).expect("the first logger of this process");
    let gate = Arc::new(Gate::failing(Point::Create, Errno::IO));
    let server = TestServer::start_with(|c| c.gate = Some(gate.clone()));
    // After the start: the test support's logger, refused, sets the level
    // to its own (off) all the same.
    log::set_max_level(log::LevelFilter::Debug);
    let mut raw = server.raw();
    for n in 0..3 {
        raw.send(format!("PUT f{n} 1\nx"));
        assert!(raw.line().starts_with("ERR 503 storage unavailable"));
    }
    let lines = captured.0.lock().unwrap().clone();
    let levels: Vec<log::Level> = lines
        .iter()
        .filter(|(_, line)| line.contains("PUT f") && line.contains("storage unavailable"))
        .map(|(level, _)| *level)
        .collect();
    assert_eq!(
        levels,
        [log::Level::Warn, log::Level::Error, log::Level::Debug],
        "{lines:#?}"
    );
}

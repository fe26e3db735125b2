//! Re-reading a file on SIGHUP (the tokens, the certificate), one reader at
//! a time: at most one thread reads and installs, and a SIGHUP that comes
//! while it does makes it read once more when it is done (SIGHUPs meanwhile
//! count as one). So what is in force is always what was read last: two
//! overlapping readers could install an older file after a newer one (a
//! removed token, a replaced key surviving until the next reload).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use log::error;

/// The reloads of one file: under way, and asked for meanwhile.
#[derive(Debug, Default)]
pub struct Serial {
    state: Mutex<Reloads>,
}

#[derive(Debug, Default)]
struct Reloads {
    /// A thread is reading the file and installing what it read.
    running: bool,
    /// A reload was asked for while it ran: read the file again.
    again: bool,
}

impl Serial {
    /// Starts a thread called `name` that runs `reload` (read and install),
    /// unless one is running: then that one runs its own once more when it
    /// is done. Returns the thread started, if any.
    pub fn request(
        serial: &Arc<Serial>,
        name: &str,
        reload: impl Fn() + Send + 'static,
    ) -> Option<JoinHandle<()>> {
        {
            let mut state = serial.state();
            if state.running {
                state.again = true;
                return None;
            }
            state.running = true;
        }
        let own = Arc::clone(serial);
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || own.run_until_current(reload));
        match spawned {
            Ok(thread) => Some(thread),
            Err(err) => {
                serial.state().running = false;
                error!("{name}: not reloaded: cannot start a thread: {err}");
                None
            }
        }
    }

    /// Whether a reload is under way.
    pub fn is_running(&self) -> bool {
        self.state().running
    }

    /// The reloading thread: runs `reload` until no reload was asked for
    /// while it did.
    fn run_until_current(&self, reload: impl Fn()) {
        loop {
            reload();
            let mut state = self.state();
            if !state.again {
                state.running = false;
                return;
            }
            state.again = false;
        }
    }

    fn state(&self) -> MutexGuard<'_, Reloads> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_request_during_a_reload_runs_it_once_more_after_never_beside() {
        let serial = Arc::new(Serial::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (started, first_started) = mpsc::channel();
        let (let_go, held) = mpsc::channel::<()>();
        let held = Mutex::new(Some(held));
        let counted = Arc::clone(&runs);
        let thread = Serial::request(&serial, "test-reload", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = started.send(());
            if let Some(held) = held.lock().unwrap().take() {
                held.recv().unwrap(); // only the first run is held
            }
        })
        .expect("a thread starts");
        first_started.recv().unwrap();
        for _ in 0..3 {
            let beside =
                Serial::request(&serial, "test-reload", || unreachable!("a second reader"));
            assert!(beside.is_none(), "folded into the running reload");
        }
        let_go.send(()).unwrap();
        thread.join().unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "three requests meanwhile count as one"
        );
        assert!(!serial.is_running(), "the next request starts a thread");
    }
}

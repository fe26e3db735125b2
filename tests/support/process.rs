//! `ferry serve` as a child process on a free port, for tests of what only
//! a whole process shows: signals, exit status, resource limits.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A running `ferry serve`; killed on drop if still running.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Log>,
}

/// The server's log lines so far, and a signal for each new one.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

/// `command` as `... serve --root <root> <args...>`, logging to a piped
/// stderr at the default level, its stdin and stdout closed.
pub fn serve_args<'a>(command: &'a mut Command, root: &Path, args: &[&str]) -> &'a mut Command {
    command
        .arg("serve")
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
}

impl Process {
    /// Starts `ferry serve --listen 127.0.0.1:0 --no-fsync --root <root>
    /// <extra...>`: tests that are not about durability skip the flushes
    /// (an `--fsync` in `extra` turns them back on: the last one wins).
    pub fn start(root: &Path, extra: &[&str]) -> Process {
        Process::start_with(Command::new(env!("CARGO_BIN_EXE_ferry")), root, extra)
    }

    /// As [`Process::start`] with the settings ferry ships with (durable
    /// acknowledgements), for the tests that check them.
    pub fn start_as_shipped(root: &Path, extra: &[&str]) -> Process {
        let command = Command::new(env!("CARGO_BIN_EXE_ferry"));
        Process::launch(
            command,
            root,
            &[&["--listen", "127.0.0.1:0"], extra].concat(),
        )
    }

    /// As [`Process::start`], with the open-files limit (soft and hard) set
    /// to `limit` for the server, through the shell's `ulimit`.
    pub fn start_with_fd_limit(root: &Path, limit: u64, extra: &[&str]) -> Process {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_ferry"),
        ]);
        Process::start_with(command, root, extra)
    }

    /// As [`Process::start`], running `command` (the ferry binary, with
    /// whatever environment a test gives it, or a shell that execs it).
    pub fn start_with(command: Command, root: &Path, extra: &[&str]) -> Process {
        let args = [&["--listen", "127.0.0.1:0", "--no-fsync"], extra].concat();
        Process::launch(command, root, &args)
    }

    /// `command` serving `root` with `args`, once it listens.
    fn launch(mut command: Command, root: &Path, args: &[&str]) -> Process {
        let mut child = serve_args(&mut command, root, args)
            .spawn()
            .expect("spawn ferry serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Log::default());
        // The line that names the address is logged once the server is
        // ready, signal handlers included: "... on 127.0.0.1:PORT, ...".
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            log.lines.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split(" on 127.0.0.1:").nth(1) {
                // The FERRY/1 port, before any " (HTTP on ...)".
                let port = rest.split([',', ' ']).next().unwrap();
                break format!("127.0.0.1:{port}").parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lines.lock().unwrap().push(line);
                sink.grew.notify_all();
            }
        });
        Process { child, addr, log }
    }

    /// Sends a signal.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// The log lines so far that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let log = self.log.lines.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// Waits until the server logs a line containing `needle`, and returns
    /// it. Panics if none comes within 30 seconds.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the server never logged {needle:?}");
            lines = self.log.grew.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// The HTTP listener's address (started with `--http 127.0.0.1:0`).
    pub fn http_addr(&self) -> SocketAddr {
        self.listener_addr("HTTP")
    }

    /// The S3 listener's address (started with `--s3 127.0.0.1:0`).
    pub fn s3_addr(&self) -> SocketAddr {
        self.listener_addr("S3")
    }

    /// The FTP listener's address (started with `--ftp 127.0.0.1:0`).
    pub fn ftp_addr(&self) -> SocketAddr {
        self.listener_addr("FTP")
    }

    /// The address of the listener of `protocol` (as the start-up line
    /// names it: `(S3 on 127.0.0.1:PORT)`).
    fn listener_addr(&self, protocol: &str) -> SocketAddr {
        let mark = format!("({protocol} on ");
        let line = self.wait_for_log(&mark);
        line.split(&mark)
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The server's resident memory (VmRSS), in bytes.
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// User + system CPU time the server has used so far, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the whole line.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// The names of the server's threads (one that ends meanwhile, such as
    /// the start-up sweep's, is left out).
    pub fn thread_names(&self) -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .unwrap()
            .filter_map(|task| {
                let comm = task.ok()?.path().join("comm");
                Some(std::fs::read_to_string(comm).ok()?.trim().to_owned())
            })
            .collect()
    }
}

impl Drop for Process {
    /// A failed test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

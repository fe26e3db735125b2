//! Shared helpers for the integration tests: a real server on 127.0.0.1:0
//! with a temporary root, and raw-socket clients that check exact bytes.
#![allow(dead_code)] // each test crate uses a different subset

pub mod dav;
pub mod ftp;
pub mod http;
pub mod process;
pub mod proxy;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sftp;
pub mod tar;
pub mod tmpfs;
// Certificates need a provider: with the TLS features only.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
pub mod tls;
pub mod tokens;
pub mod tools;
pub mod trees;

/// Whether this build has TLS (a test of TLS runs its plain part alone
/// where it has not, and says so: [`with_tls_where_built`]).
pub const HAS_TLS: bool = cfg!(any(feature = "tls-aws-lc", feature = "tls-ring"));

/// `[false, true]`: a test's plain run, then its run over TLS, the
/// latter only where this build has TLS (else said skipped).
pub fn with_tls_where_built() -> Vec<bool> {
    if !HAS_TLS {
        eprintln!("skipped: the runs over TLS (built without a TLS feature)");
    }
    [false, true]
        .into_iter()
        .filter(|&tls| !tls || HAS_TLS)
        .collect()
}

/// A self-signed certificate for 127.0.0.1 written into `dir` (as
/// `server-cert.pem` and its key); `None` in a build without TLS.
pub fn certificate_in(dir: &Path) -> Option<ferry::tls::TlsFiles> {
    #[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
    return Some(tls::self_signed(dir, "server"));
    #[cfg(not(any(feature = "tls-aws-lc", feature = "tls-ring")))]
    {
        let _ = dir;
        None
    }
}

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use ferry::storage::gate::{Gate, Point};
use ferry::{Client, Config, Server, ShutdownHandle, StartupSweep};
use tempfile::TempDir;

/// Longest any single read in a test may wait before the test fails, so a
/// hung server fails the test instead of hanging the suite.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Logs go to stderr when RUST_LOG is set (e.g. RUST_LOG=debug).
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = simple_logger::SimpleLogger::new()
            .with_level(log::LevelFilter::Off)
            .env()
            .init();
    });
}

/// Adds an HTTP listener on 127.0.0.1, port 0, to `config`.
pub fn listen_http(config: &mut Config) {
    config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
}

/// Adds an FTP listener on a free port (`TestServer::ftp`).
pub fn listen_ftp(config: &mut Config) {
    config.listen(ferry::wire::Protocol::Ftp, "127.0.0.1:0".parse().unwrap());
}

/// Adds an SFTP listener on a free port (`TestServer::sftp`).
pub fn listen_sftp(config: &mut Config) {
    config.listen(ferry::wire::Protocol::Sftp, "127.0.0.1:0".parse().unwrap());
}

/// A server running in a thread of this test process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The HTTP listener, when the config asked for one.
    pub http: Option<SocketAddr>,
    /// The S3 listener, when the config asked for one.
    pub s3: Option<SocketAddr>,
    /// The FTP listener, when the config asked for one.
    pub ftp: Option<SocketAddr>,
    /// The SFTP listener, when the config asked for one.
    pub sftp: Option<SocketAddr>,
    /// The metrics listener (`--metrics`), when the config asked for one.
    pub metrics: Option<SocketAddr>,
    pub root: TempDir,
    handle: ShutdownHandle,
    sweep: StartupSweep,
    /// The test gate, opened when the server is dropped: its shutdown waits
    /// for the I/O threads, and a failing test must end, not hang on a call
    /// still held.
    gate: Option<Arc<Gate>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with default settings, but for `fsync` (off).
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// Starts a server with an HTTP listener beside FERRY/1's.
    pub fn start_http() -> TestServer {
        TestServer::start_with(listen_http)
    }

    /// Starts a server after `adjust` has changed its config.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let root = tempfile::tempdir().expect("temp dir");
        TestServer::start_in(root, adjust)
    }

    /// Starts a server on an existing root directory.
    pub fn start_in(root: TempDir, adjust: impl FnOnce(&mut Config)) -> TestServer {
        init_logging();
        let mut config = Config {
            root: root.path().to_path_buf(),
            ..Config::default()
        };
        config.listen(ferry::wire::Protocol::Ferry, "127.0.0.1:0".parse().unwrap());
        // Not the shipped default: tests that are not about durability
        // skip the flushes (those that are set it back in `adjust`).
        config.fsync = false;
        adjust(&mut config);
        // A test that holds the sweep at its gate must not wait for it.
        let sweep_held = config
            .gate
            .as_ref()
            .is_some_and(|g| g.point() == Point::Sweep);
        let gate = config.gate.clone();
        let server = Server::bind(config).expect("bind");
        let sweep = server.startup_sweep();
        if !sweep_held {
            // Tests see the root as the sweep leaves it, not midway.
            sweep.wait();
        }
        let addr = server.local_addr();
        let http = server.http_addr();
        let s3 = server.address_of(ferry::wire::Protocol::S3);
        let ftp = server.address_of(ferry::wire::Protocol::Ftp);
        let sftp = server.address_of(ferry::wire::Protocol::Sftp);
        let metrics = server.metrics_addr();
        let handle = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        TestServer {
            addr,
            http,
            s3,
            ftp,
            sftp,
            metrics,
            root,
            handle,
            sweep,
            gate,
            thread: Some(thread),
        }
    }

    /// Waits until the start-up sweep has finished.
    pub fn wait_for_sweep(&self) {
        self.sweep.wait();
    }

    /// A connected blocking client.
    pub fn client(&self) -> Client {
        Client::connect(self.addr).expect("connect")
    }

    /// A raw connection whose greeting has been read and checked.
    pub fn raw(&self) -> Raw {
        let mut raw = Raw::connect(self.addr);
        let greeting = raw.line();
        assert!(greeting.starts_with("OK FERRY/1 "), "greeting {greeting:?}");
        raw
    }

    /// Path of a name under the root.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Writes each of `names` into the root (its folders made), each
    /// file holding its own name.
    pub fn write_files(&self, names: &[&str]) {
        for name in names {
            let path = self.path(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders made");
            std::fs::write(&path, name.as_bytes()).expect("file written");
        }
    }

    /// Every file under the root, relative names, sorted (temp files too),
    /// but for the key the server makes session ids with and the file nodes
    /// lock for session bookkeeping, which stay, the nodes' locks and
    /// journals, and the usage ledger.
    pub fn files_on_disk(&self) -> Vec<String> {
        let mut found = Vec::new();
        walk(self.root.path(), self.root.path(), &mut found);
        // The server's bookkeeping, and the marks of stored tus uploads
        // (swept after a while; tests/http/tus.rs looks at them itself).
        found.retain(|f| {
            f != ".ferry-uploads/id-key"
                && f != ".ferry-uploads/lock"
                && f != ".ferry-dav/locks/.lock"
                && !f.starts_with(".ferry-nodes/")
                && !f.starts_with(".ferry-quota/")
                && !(f.starts_with(".ferry-uploads/") && f.ends_with(".stored"))
        });
        found.sort();
        found
    }

    /// As [`TestServer::files_on_disk`], once the temp files of uploads
    /// whose connections closed are gone: the server removes them on its
    /// I/O pool after the close, and nothing tells a client when, so this
    /// polls, within [`PATIENCE`].
    pub fn settled_files_on_disk(&self) -> Vec<String> {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let files = self.files_on_disk();
            if !files.iter().any(|f| f.contains(".ferry-tmp-"))
                || std::time::Instant::now() >= deadline
            {
                return files;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks for a graceful shutdown and waits for the server to exit.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.handle.shutdown();
        self.wait_for_exit()
    }

    /// The shutdown handle, for tests of shutdown itself.
    pub fn handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Waits for the server thread to end by itself.
    pub fn join(mut self) -> std::io::Result<()> {
        self.wait_for_exit()
    }

    /// Waits for the server to exit (after a shutdown request), keeping
    /// the root to look at.
    pub fn wait_for_exit(&mut self) -> std::io::Result<()> {
        self.thread
            .take()
            .expect("the server was already joined")
            .join()
            .expect("server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(gate) = &self.gate {
            gate.open();
        }
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// Lists the files below `dir`. The server may be removing files and
/// directories meanwhile (on its I/O threads): what vanishes during the
/// walk is simply not there.
fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound && dir != root => return,
        Err(err) => panic!("cannot list {}: {err}", dir.display()),
    };
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, found);
        } else {
            found.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

/// A raw TCP connection for byte-exact protocol checks.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// A TCP socket for a client, close-on-exec as std's are: the tests of a
/// program run as threads of one process, and a socket another test's
/// child inherited would stay open in it (a server would never see this
/// client go, and a hook or a server under `ulimit -n` would count it).
fn client_socket() -> std::os::fd::OwnedFd {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap()
}

impl Raw {
    /// Connects without reading anything.
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    /// Connects from `source` (another loopback address: another client).
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Raw {
        let socket = client_socket();
        rustix::net::bind(&socket, &SocketAddr::new(source, 0)).expect("bind");
        rustix::net::connect(&socket, &addr).expect("connect");
        let stream = TcpStream::from(socket);
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    /// Connects with a receive buffer of about `bytes`: a reader whose
    /// kernel holds little of what the server sends and does not read.
    pub fn connect_narrow(addr: SocketAddr, bytes: usize) -> Raw {
        let socket = client_socket();
        rustix::net::sockopt::set_socket_recv_buffer_size(&socket, bytes).unwrap();
        rustix::net::connect(&socket, &addr).expect("connect");
        let stream = TcpStream::from(socket);
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let reader = BufReader::with_capacity(64, stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send");
    }

    /// Reads one line, without its newline.
    pub fn line(&mut self) -> String {
        self.try_line().expect("read line")
    }

    /// As [`Raw::line`], with the read's error (a timeout after
    /// [`PATIENCE`]) for the test to report with what it knows.
    pub fn try_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        assert!(
            line.ends_with('\n'),
            "connection ended inside a line: {line:?}"
        );
        line.pop();
        Ok(line)
    }

    /// Reads the line of a `GET` answer, `OK <n> <total> <crc32c> <mtime>`,
    /// checks that its modification time is a number and returns the rest,
    /// for tests about the other fields.
    pub fn get_line(&mut self) -> String {
        let line = self.line();
        match line.rsplit_once(' ') {
            Some((rest, mtime)) if line.starts_with("OK ") && rest.split(' ').count() == 4 => {
                assert!(mtime.parse::<i64>().is_ok(), "{line:?}");
                rest.to_owned()
            }
            _ => line,
        }
    }

    /// Reads exactly `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("read body");
        buf
    }

    /// Half-closes the sending side.
    pub fn finish_sending(&mut self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }

    /// Asserts that the server closes the connection with nothing more to
    /// say (EOF or reset), within [`PATIENCE`].
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(
                rest.is_empty(),
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            Err(err) => panic!("expected the server to close the connection: {err}"),
        }
    }
}

/// Entries directly inside a local directory, sorted, but for the nodes'
/// locks and journals (`.ferry-nodes`), WebDAV's locks (`.ferry-dav`) and
/// the usage ledger (`.ferry-quota`) in a server's root.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".ferry-nodes" && name != ".ferry-dav" && name != ".ferry-quota")
        .collect();
    found.sort();
    found
}

/// Every name under a server's `root`, folders with a trailing `/`,
/// sorted, but for ferry's own folders and files at the top (`.ferry-*`:
/// bookkeeping, kept uploads, locks): what a client made there, to show
/// that it made nothing else.
pub fn names_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().to_string_lossy();
            if folder == root && name.starts_with(".ferry-") {
                continue;
            }
            match path.is_dir() {
                true => {
                    found.push(format!("{name}/"));
                    folders.push(path);
                }
                false => found.push(name.into_owned()),
            }
        }
    }
    found.sort();
    found
}

/// Drops `file` (written back first) from the page cache, so the server's
/// next read of it goes to the I/O pool: false where the file system keeps
/// it cached anyway (tmpfs), and the test that needs it cold says it was
/// skipped.
pub fn dropped_from_page_cache(file: &std::fs::File) -> bool {
    file.sync_all().unwrap();
    rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    let mut one = [0u8; 1];
    let mut byte = [std::io::IoSliceMut::new(&mut one)];
    let nowait = rustix::io::ReadWriteFlags::NOWAIT;
    // Asked of its last byte: a read that misses starts the kernel's
    // read-ahead there, even one that may not wait (RWF_NOWAIT), and at
    // the first byte it would bring back, a moment later, the start the
    // server's read is to find cold (the test then waited for a read on
    // the pool that never came).
    let last = file.metadata().unwrap().len().saturating_sub(1);
    let cached = rustix::io::preadv2(file, &mut byte, last, nowait).is_ok_and(|n| n == 1);
    if cached {
        eprintln!("skipped: this file system keeps the file cached (tmpfs?)");
    }
    !cached
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The CRC-32C of `data` as the protocol writes it.
pub fn crc_hex(data: &[u8]) -> String {
    format!("{:08x}", crc32c::crc32c(data))
}

/// `UPLOAD` of `data` as `name` → (session id, bytes staged).
pub fn upload(raw: &mut Raw, name: &str, data: &[u8]) -> (String, u64) {
    raw.send(format!("UPLOAD {name} {} {}\n", data.len(), crc_hex(data)));
    let line = raw.line();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 3, "{line:?}");
    assert_eq!(fields[0], "OK", "{line:?}");
    (fields[1].to_owned(), fields[2].parse().unwrap())
}

/// Asks `UPLOAD` until the session stands at `at` (the server takes in
/// bytes that were sent on another connection at its own pace).
pub fn wait_for_received(raw: &mut Raw, name: &str, data: &[u8], at: u64) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (id, received) = upload(raw, name, data);
        if received == at {
            return id;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {received}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `APPEND` of `bytes` at `offset` → the answer line.
pub fn append(raw: &mut Raw, id: &str, offset: usize, bytes: &[u8]) -> String {
    raw.send(format!("APPEND {id} {offset} {}\n", bytes.len()));
    raw.send(bytes);
    raw.line()
}

/// Every file under `root` whose name marks it as a temp file.
pub fn temp_files(root: &Path) -> Vec<String> {
    // An upload's anywhere; in ferry's own folders, a WebDAV lock record's
    // (`.ferry-dav/locks/tmp-*`) and an S3 part's (`<id>.parts/.t*`).
    fn is_temp(dir: &Path, leaf: &str) -> bool {
        let dir = dir.file_name().unwrap_or_default().to_string_lossy();
        leaf.starts_with(".ferry-tmp-")
            || (dir == "locks" && leaf.starts_with("tmp-"))
            || (dir.ends_with(".parts") && leaf.starts_with(".t"))
    }
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else if is_temp(&dir, &entry.file_name().to_string_lossy()) {
                found.push(entry.path().display().to_string());
            }
        }
    }
    found
}

/// The modification time of a local file, in Unix seconds.
pub fn mtime_secs(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Gives a local file the modification time `secs` (Unix seconds).
pub fn set_mtime(path: &Path, secs: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .unwrap();
}

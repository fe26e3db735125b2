//! A TCP proxy that cuts connections: it forwards each connection to the
//! server and kills it once a seeded-random number of bytes (both
//! directions together) has passed through, so tests can interrupt
//! transfers at arbitrary points and check that resuming repairs them.
//!
//! The budgets come from a seeded generator, so a failing test can be
//! rerun with the same cut points (give or take how the bytes of the two
//! directions interleave).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// A running proxy; stops accepting when dropped.
pub struct CuttingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl CuttingProxy {
    /// Forwards to `upstream`; connection `n` is cut after a number of bytes
    /// drawn from `budget` (inclusive range) with a generator seeded by
    /// `seed`.
    pub fn start(
        upstream: SocketAddr,
        seed: u64,
        budget: std::ops::RangeInclusive<u64>,
    ) -> CuttingProxy {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let span = budget.end() - budget.start() + 1;
        CuttingProxy::with_allowance(upstream, move |_| budget.start() + rng.next() % span)
    }

    /// Forwards to `upstream`, cutting each of the first `cut` connections
    /// once `after` bytes have passed, and none after them.
    #[allow(dead_code)]
    pub fn cutting_first(upstream: SocketAddr, cut: usize, after: u64) -> CuttingProxy {
        CuttingProxy::with_allowance(upstream, move |n| match n < cut {
            true => after,
            false => u64::MAX,
        })
    }

    /// Forwards to `upstream`; connection `n` (from 0) is cut after
    /// `allowance(n)` bytes.
    fn with_allowance(
        upstream: SocketAddr,
        mut allowance: impl FnMut(usize) -> u64 + Send + 'static,
    ) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, cuts, connections) = (stop.clone(), cuts.clone(), connections.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    // Small answers must pass at once, as they would directly.
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let n = connections.fetch_add(1, Ordering::SeqCst);
                    forward(client, server, allowance(n), cuts.clone());
                }
            })
        };
        CuttingProxy {
            addr,
            stop,
            cuts,
            connections,
            thread: Some(thread),
        }
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Pumps both directions of one connection until either side ends or the
/// byte allowance runs out; then both sockets are shut down in both
/// directions, which each peer sees as the connection dying.
fn forward(client: TcpStream, server: TcpStream, allowance: u64, cuts: Arc<AtomicUsize>) {
    let left = Arc::new(AtomicU64::new(allowance));
    let cut = Arc::new(AtomicBool::new(false));
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    for (from, to) in pairs {
        let (Ok(from), Ok(to)) = (from, to) else {
            continue;
        };
        let both = (client.try_clone(), server.try_clone());
        let (left, cut, cuts) = (left.clone(), cut.clone(), cuts.clone());
        std::thread::spawn(move || {
            let (Ok(a), Ok(b)) = both else { return };
            pump(from, to, &left);
            if left.load(Ordering::SeqCst) == 0 && !cut.swap(true, Ordering::SeqCst) {
                cuts.fetch_add(1, Ordering::SeqCst);
            }
            if cut.load(Ordering::SeqCst) {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            }
        });
    }
}

/// Copies `from` to `to` while the shared allowance lasts. At the end of
/// `from`'s data, passes the half-close on.
fn pump(mut from: TcpStream, mut to: TcpStream, left: &AtomicU64) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n as u64,
        };
        let granted = match left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
            Some(l.saturating_sub(n))
        }) {
            Ok(before) => before.min(n) as usize,
            Err(_) => 0,
        };
        if to.write_all(&buf[..granted]).is_err() || (granted as u64) < n {
            return;
        }
        if left.load(Ordering::SeqCst) == 0 {
            return;
        }
    }
}

/// A small deterministic generator (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

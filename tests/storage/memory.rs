//! A root on a memory file system (tmpfs, here `/dev/shm`): no call there
//! waits on a device, so a PUT's and a GET's few file-system calls run on
//! the reactor in place of a round trip through the I/O pool
//! (`serve::Job::brief`), durable acknowledgements (the default) and all,
//! with no flush made (one returns at once there, having nothing to
//! write); every file still lands whole, under concurrent uploads too.

use crate::support;

use std::io::Read;

use support::http::{exchange, metric};
use support::{TestServer, pattern};

/// A server on a root in `/dev/shm`, with HTTP and metrics listeners;
/// `None` (and said) where there is no tmpfs there.
fn on_tmpfs() -> Option<TestServer> {
    const TMPFS_MAGIC: u32 = 0x0102_1994;
    let is_tmpfs = rustix::fs::statfs("/dev/shm").is_ok_and(|fs| fs.f_type as u32 == TMPFS_MAGIC);
    if !is_tmpfs {
        eprintln!("skipped: /dev/shm is not a tmpfs here");
        return None;
    }
    let root = tempfile::tempdir_in("/dev/shm").unwrap();
    Some(TestServer::start_in(root, |config| {
        support::listen_http(config);
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.fsync = true;
    }))
}

#[test]
fn puts_and_gets_on_a_memory_root_skip_the_pool_and_land_whole() {
    let Some(server) = on_tmpfs() else {
        return;
    };
    let (http, metrics) = (server.http.unwrap(), server.metrics.unwrap());
    let jobs_before = metric(metrics, "ferry_io_jobs_total");
    let flushes_before = flushes(metrics);
    for i in 0..50 {
        let body = pattern(4096 + i, i as u64);
        let put = exchange(
            http,
            "PUT",
            &format!("/d{i}.bin"),
            "Host: localhost\r\n",
            &body,
        );
        assert!(put.status == 201 || put.status == 204, "{}", put.status);
        let got = exchange(
            http,
            "GET",
            &format!("/d{i}.bin"),
            "Host: localhost\r\n",
            b"",
        );
        assert!(got.body == body, "file {i} whole");
    }
    // Folders made by the PUTs, the first lock-table read: a few jobs at
    // most, not two for every PUT.
    let jobs = metric(metrics, "ferry_io_jobs_total") - jobs_before;
    assert!(jobs < 10, "{jobs} I/O jobs for 50 PUTs and GETs");
    // Durable, and nothing flushed: in memory a flush has nothing to write.
    assert_eq!(flushes(metrics), flushes_before, "flush batches, folders");
    // Concurrent uploads over FERRY/1, each from its own thread.
    let uploads: Vec<_> = (0..8)
        .map(|t| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut client = ferry::Client::connect(addr).unwrap();
                for i in 0..20 {
                    let body = pattern(10_000 + t * 100 + i, (t + i) as u64);
                    client.put_bytes(&format!("c/{t}-{i}"), &body).unwrap();
                }
            })
        })
        .collect();
    for upload in uploads {
        upload.join().unwrap();
    }
    for t in 0..8 {
        for i in 0..20 {
            let mut file = std::fs::File::open(server.path(&format!("c/{t}-{i}"))).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            assert!(bytes == pattern(10_000 + t * 100 + i, (t + i) as u64));
        }
    }
    // Nor for concurrent commits, which take their steps beside each
    // other rather than through the flusher's batches.
    assert_eq!(flushes(metrics), flushes_before, "flush batches, folders");
    assert_eq!(metric(metrics, "ferry_flush_waits_total"), 0);
}

/// Flush batches and folder flushes made for durable changes so far.
fn flushes(metrics: std::net::SocketAddr) -> (u64, u64) {
    (
        metric(metrics, "ferry_flush_batches_total"),
        metric(metrics, "ferry_folder_flushes_total"),
    )
}

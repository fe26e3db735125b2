//! End to end over loopback: PUT and GET of 4 KiB, 1 MiB and 64 MiB bodies
//! against an in-process server with a temporary root, in bytes per second.
//! Run with `cargo bench --bench transfer`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry::{Client, Config, Server};

fn start_server() -> (std::net::SocketAddr, tempfile::TempDir) {
    let root = tempfile::tempdir().expect("temp root");
    let mut config = Config {
        root: root.path().to_path_buf(),
        ..Config::default()
    };
    config.listen(
        ferry::wire::Protocol::Ferry,
        "127.0.0.1:0".parse().expect("address"),
    );
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    // The server thread lives until the benchmark process exits.
    std::thread::spawn(move || server.run());
    (addr, root)
}

fn transfers(c: &mut Criterion) {
    let (addr, _root) = start_server();
    let mut client = Client::connect(addr).expect("connect");
    let mut group = c.benchmark_group("transfer");
    group.measurement_time(Duration::from_secs(5));
    for (label, size) in [
        ("4KiB", 4usize << 10),
        ("1MiB", 1 << 20),
        ("64MiB", 64 << 20),
    ] {
        if size >= 64 << 20 {
            group.sample_size(10);
        }
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let name = format!("bench/{label}");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("put", label), &body, |b, body| {
            b.iter(|| client.put_bytes(&name, body).expect("put"))
        });
        let mut sink = Vec::with_capacity(size);
        group.bench_with_input(BenchmarkId::new("get", label), &name, |b, name| {
            b.iter(|| {
                sink.clear();
                client.get(name, &mut sink).expect("get")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transfers);
criterion_main!(benches);

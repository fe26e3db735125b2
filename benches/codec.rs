//! The FERRY/1 codec on its own: request lines parsed and responses
//! formatted per second, with no sockets involved.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry::protocol::{Response, parse_request};
use std::hint::black_box;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_request");
    for (label, line) in [
        (
            "put",
            &b"PUT sensors/site-17/2026-11-21T12%3A00.csv 48213 1f2e3d4c\n"[..],
        ),
        (
            "get_range",
            b"GET firmware/v2.3.1/image.bin 1048576 65536\n",
        ),
        ("quit", b"QUIT\n"),
    ] {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(label, |b| b.iter(|| parse_request(black_box(line))));
    }
    group.finish();
}

fn format(c: &mut Criterion) {
    let mut out = Vec::with_capacity(64);
    c.bench_function("format_body_header", |b| {
        b.iter(|| {
            out.clear();
            Response::Body {
                len: black_box(1 << 20),
                total: black_box(1 << 30),
                mtime: black_box(1_767_225_600),
                crc: black_box(Some(0x1234_5678)),
            }
            .write_to(&mut out);
        })
    });
}

criterion_group!(benches, parse, format);
criterion_main!(benches);

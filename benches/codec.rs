//! The FERRY/1 codec on its own: request lines parsed and responses
//! formatted per second, with no sockets involved; and S3's aws-chunked
//! body decoder (its framing, unsigned: a signed body adds a SHA-256 of
//! the data and one HMAC per chunk).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry::formats::aws_chunked::{AwsChunked, Coding};
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

/// 4 MiB in 64 KiB chunks with a checksum trailer (botocore's shape),
/// fed in 16 KiB reads.
fn aws_chunked(c: &mut Criterion) {
    let payload = vec![7u8; 64 * 1024];
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"10000\r\n");
        body.extend_from_slice(&payload);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    let mut group = c.benchmark_group("aws_chunked");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("decode_4MiB", |b| {
        b.iter(|| {
            let mut decoder = AwsChunked::new(Coding {
                declared: 64 * 64 * 1024,
                chain: None,
                signed_trailer: false,
            });
            let mut decoded = 0;
            for mut read in body.chunks(16 * 1024) {
                while !read.is_empty() {
                    let (used, payload) =
                        decoder.decode(black_box(read)).unwrap_or((read.len(), &[]));
                    decoded += payload.len();
                    read = &read[used..];
                }
            }
            assert!(decoder.is_done());
            decoded
        })
    });
    group.finish();
}

criterion_group!(benches, parse, format, aws_chunked);
criterion_main!(benches);

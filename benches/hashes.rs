//! The hashes an upload can pay for, one core each, as ferry computes
//! them: MD5 (every S3 PutObject's ETag, `crate::formats::md5`), SHA-256 (a SigV4
//! signed payload), CRC-32C (every upload's own checksum, ferry's and the
//! `crc32c` crate's) and CRC-32
//! (the SDKs' default checksum). `benches/s3.sh --sections 5` reads the
//! rates from here to hold a PutObject to "≥ 0.9× the MD5's rate" and a
//! signed upload's server CPU to "≤ an HTTP PUT's + one MD5 + one
//! SHA-256" (issue 50), in the same run as the uploads.
//!
//! Each hash takes 1 MiB buffers, as an upload's pool writes hand them
//! over (the per-call cost is what a 256 KiB read adds, nothing more).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry::formats::castagnoli;
use ferry::formats::md5::Md5;
use sha2::{Digest as _, Sha256};
use std::hint::black_box;

const BUFFER: usize = 1 << 20;

fn hashes(c: &mut Criterion) {
    // Not zeros: a pattern no hash can take a short cut through.
    let data: Vec<u8> = (0..BUFFER as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut group = c.benchmark_group("hash_1MiB");
    group.throughput(Throughput::Bytes(BUFFER as u64));
    group.bench_function("md5", |b| {
        b.iter(|| {
            let mut md5 = Md5::new();
            md5.update(black_box(&data));
            md5.finalize()
        })
    });
    group.bench_function("sha256", |b| {
        b.iter(|| {
            let mut sha = Sha256::new();
            sha.update(black_box(&data));
            sha.finalize()
        })
    });
    // What an upload pays (ferry's folds where the CPU has them), and the
    // crate's three `crc32` streams beside it (src/formats/castagnoli.rs).
    group.bench_function("crc32c", |b| {
        b.iter(|| castagnoli::checksum(black_box(&data)))
    });
    group.bench_function("crc32c_crate", |b| {
        b.iter(|| crc32c::crc32c(black_box(&data)))
    });
    group.bench_function("crc32", |b| b.iter(|| crc32fast::hash(black_box(&data))));
    group.finish();
}

criterion_group!(benches, hashes);
criterion_main!(benches);

//! Fuzz bytes into `ferry::http::ChunkDecoder`, fed in pieces: the first
//! byte picks how many piece sizes follow and whether the rest is arbitrary
//! bytes (no panic, the reference grammar's payload and outcome, nothing used
//! after the end) or the recipe of a valid body (exactly its payload, and the
//! bytes after it left unused). The checks live in
//! `ferry_fuzz::http::fuzz_chunked`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferry_fuzz::http::fuzz_chunked(data));

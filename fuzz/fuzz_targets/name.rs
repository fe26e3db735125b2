//! Arbitrary bytes into `Name::decode` and `Prefix::decode`: accepted names
//! follow every naming rule, round-trip through their encoding and stay
//! beneath the root when joined onto it; refusals carry the spec's code.
//! The checks live in `ferry_fuzz::{check_name, check_prefix}`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::check_name(data);
    ferry_fuzz::check_prefix(data);
});

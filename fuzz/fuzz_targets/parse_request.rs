//! Arbitrary bytes into `ferry::protocol::parse_request`: no panic, byte
//! counts within the input and the 4096-byte cap, `Ok(None)` only below the
//! cap, 431 only without a line, and the answer the spec's grammar gives.
//! The checks live in `ferry_fuzz::check_parse_request`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferry_fuzz::check_parse_request(data));

//! Arbitrary bytes into `ferry::http::parse_request`: no panic, byte counts
//! within the input and the 8 KiB cap, `Ok(None)` only below the cap, only
//! documented statuses, answers that neither an earlier cut nor more bytes
//! change, names beneath the root, and the framing, persistence and refusals
//! the head's fields call for. The checks live in
//! `ferry_fuzz::http::check_parse_request`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ferry_fuzz::http::check_parse_request(data));

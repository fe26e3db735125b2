//! Fuzz text into share links' readers (`fuzz/src/links.rs`): the first
//! byte picks the JSON of a link's request or a link's record on disk.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/links.rs"]
mod links;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match pick % 2 {
        0 => links::check_flat_object(&text),
        _ => links::check_record("AbCdEfGhIjKlMnOpQrStUv", &text),
    }
});

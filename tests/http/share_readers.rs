//! Share links' readers on generated text, with the checks the
//! `share_links` fuzz target runs (`fuzz/src/links.rs`): the JSON a link
//! is asked with, and a link's record on disk, each from JSON- or
//! record-shaped pieces and from random characters.
#![cfg(feature = "shares")]

use proptest::collection::vec;
use proptest::prelude::*;

#[path = "../../fuzz/src/links.rs"]
mod links;

/// Pieces JSON is made of, the awkward ones among them.
fn json_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just(" ".to_owned()),
        Just("\"path\"".to_owned()),
        Just("\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("007".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        "\"[a-zé ]{0,6}\"",
    ]
}

/// A valid record's lines, some of them changed.
fn record() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("ferry-share-link 1".to_owned()),
        Just("creator alice".to_owned()),
        Just("key 0123456789abcdef".to_owned()),
        Just("path a b/".to_owned()),
        Just("mode read".to_owned()),
        Just("mode upload".to_owned()),
        Just("created 5".to_owned()),
        Just("expires -3".to_owned()),
        Just("password -".to_owned()),
        Just("max 7".to_owned()),
        Just("max -".to_owned()),
        Just("downloads 99999999999999999999".to_owned()),
        "[a-z]{0,8} [ -~\r]{0,8}",
    ];
    let valid = "ferry-share-link 1\ncreator alice\nkey 0123456789abcdef\npath a/\nmode read\ncreated 5\nexpires 9\npassword -\nmax -\ndownloads 0\n";
    prop_oneof![
        vec(line, 0..12).prop_map(|lines| lines.join("\n")),
        (0..valid.len(), "[ -~\r\n]{0,4}").prop_map(move |(at, put)| {
            let at = (0..=at)
                .rev()
                .find(|&i| valid.is_char_boundary(i))
                .unwrap_or(0);
            format!("{}{put}{}", &valid[..at], &valid[at..])
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_a_link_is_asked_with_reads_back_as_written(pieces in vec(json_piece(), 0..16)) {
        links::check_flat_object(&pieces.concat());
    }

    #[test]
    fn random_text_is_no_json_object_but_harmless(text in "\\PC{0,40}") {
        links::check_flat_object(&text);
        links::check_record("AbCdEfGhIjKlMnOpQrStUv", &text);
    }

    #[test]
    fn a_record_changed_anywhere_reads_back_as_written_or_not_at_all(text in record()) {
        links::check_record("AbCdEfGhIjKlMnOpQrStUv", &text);
    }
}

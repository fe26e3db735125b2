//! Shared by the parser property suites (`protocol/properties.rs`,
//! `http/properties.rs`): how many cases a property runs, and random edits
//! of valid input, which reach the corners a parser's refusals live in
//! faster than random bytes do.

use proptest::prelude::*;
use proptest::sample::Index;

/// `cases` per property (or `PROPTEST_CASES`), failures printed, not saved.
pub fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit to a valid input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit of a byte.
    Flip(Index, u8),
    /// Insert a byte.
    Insert(Index, u8),
    /// Delete a byte.
    Delete(Index),
    /// Copy a short piece to another place.
    Duplicate(Index, Index),
}

/// Random edits; inserted bytes are often one of `telling`, the bytes the
/// grammar under test cares about.
pub fn mutation(telling: &'static [u8]) -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![prop::sample::select(telling), any::<u8>()];
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

/// Applies `mutation` to `bytes`; a duplicated piece is at most `piece`
/// bytes long.
pub fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation, piece: usize) {
    if bytes.is_empty() {
        bytes.push(b'\n');
    }
    let len = bytes.len();
    match mutation {
        Mutation::Flip(at, bit) => bytes[at.index(len)] ^= 1 << bit,
        Mutation::Insert(at, byte) => bytes.insert(at.index(len + 1), *byte),
        Mutation::Delete(at) => {
            bytes.remove(at.index(len));
        }
        Mutation::Duplicate(from, to) => {
            let from = from.index(len);
            let copied = bytes[from..(from + piece).min(len)].to_vec();
            let to = to.index(len + 1);
            bytes.splice(to..to, copied);
        }
    }
}

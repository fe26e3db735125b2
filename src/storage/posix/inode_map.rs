//! Maps keyed by a file's identity, its device and inode number: the
//! shared descriptors' table, asked twice by every GET. std's `HashMap`
//! hashes with SipHash, keyed against peers that choose their keys;
//! these numbers are the file system's, which no peer chooses, so they
//! are hashed as rustc's own tables hash integers (a rotate, an xor and a
//! multiply per word; "FxHash"): callgrind counted ~430 of a 4 KiB GET's
//! ~21,000 instructions in SipHash here (benches/notes/callgrind.md).
//! Never for keys a peer chooses or sets (a name, a token, a size or a
//! time: the checksum cache keeps SipHash for those).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by a file's device and inode; see the module's header.
pub(super) type InodeMap<V> = HashMap<(u64, u64), V, BuildHasherDefault<InodeHasher>>;

/// The multiplier of rustc's FxHasher (64-bit): odd, its bits spread.
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Hashes integers a word at a time; see the module's header.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct InodeHasher {
    hash: u64,
}

impl InodeHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for InodeHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only integers reach here in practice (tuples of them hash
        // field by field); any other key goes eight bytes at a time.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn write_i64(&mut self, word: i64) {
        self.add(word as u64);
    }

    fn write_u32(&mut self, word: u32) {
        self.add(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn files_apart_hash_apart_and_are_found() {
        let hash = |key: &(u64, u64)| BuildHasherDefault::<InodeHasher>::default().hash_one(key);
        assert_ne!(hash(&(2049, 131_072)), hash(&(2050, 131_072)));
        assert_ne!(hash(&(2049, 131_072)), hash(&(2049, 131_073)));
        // Sequential inodes (one folder's uploads) fill a map and are
        // each found again.
        let mut map = InodeMap::default();
        for inode in 0..10_000u64 {
            map.insert((2049u64, inode), inode);
        }
        assert!((0..10_000u64).all(|inode| map.get(&(2049, inode)) == Some(&inode)));
    }
}

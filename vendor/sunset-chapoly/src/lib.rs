//! ChaCha20's keystream for sunset's `chacha20-poly1305@openssh.com`
//! (`ssh_chapoly.rs`), compiled in this crate rather than in sunset.
//!
//! Why a crate: ferry builds sunset for size (`opt-level = "s"`, its key
//! exchange and host keys run once per connection), and generic code is
//! compiled in the crate that instantiates it. `ChaCha20`'s keystream is
//! generic, so sunset's use of it was built for size too, where its AVX2
//! rounds were not inlined: about twice the CPU per byte of an SFTP
//! transfer. Instantiated here, in a crate built at the release profile's
//! level, it runs at full speed; the functions are not inlined back into
//! sunset for the same reason.
#![no_std]
#![forbid(unsafe_code)]

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

/// XORs `buf` with the keystream of `key` and the packet's sequence number
/// `seq` (the nonce's last four bytes, big-endian), from byte `offset` of
/// the keystream (a multiple of 64 starts at a block).
#[inline(never)]
pub fn apply_keystream(key: &[u8; 32], seq: u32, offset: u32, buf: &mut [u8]) {
    let mut nonce = [0u8; 12];
    nonce[8..].copy_from_slice(&seq.to_be_bytes());
    let mut cipher = ChaCha20::new(key.into(), (&nonce).into());
    if offset != 0 {
        cipher.seek(offset);
    }
    cipher.apply_keystream(buf);
}

#[cfg(test)]
mod tests {
    use super::apply_keystream;

    /// The keystream from an offset is the tail of the keystream taken
    /// whole; another sequence number gives another keystream.
    #[test]
    fn an_offset_continues_the_keystream() {
        let key = [7u8; 32];
        let mut whole = [0u8; 200];
        apply_keystream(&key, 9, 0, &mut whole);
        let mut tail = [0u8; 136];
        apply_keystream(&key, 9, 64, &mut tail);
        assert_eq!(&whole[64..], &tail[..]);
        let mut other = [0u8; 200];
        apply_keystream(&key, 10, 0, &mut other);
        assert_ne!(whole, other);
    }
}

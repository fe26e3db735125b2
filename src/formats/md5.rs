//! MD5, the one hash S3 makes every upload pay for: a single PUT's `ETag`
//! is its body's MD5, `Content-MD5` is checked against it, a multipart
//! upload's `ETag` is the MD5 of its parts' MD5s, and tus's checksum
//! extension may name it. Every caller goes through [`Md5`].
//!
//! Why a module of its own: MD5 cannot be split across cores (each
//! block needs the one before), so a PutObject is as fast as one core
//! hashes (docs/s3-clients.md, "Measured"). Where aws-lc is built in
//! (`tls-aws-lc`, the default) its assembly MD5 is used: 1.11 s per GiB
//! on this machine's CPU against 1.40 for the `md-5` crate (and 1.45
//! for `md-5` 0.10 with its own assembly). Builds without aws-lc use
//! `md-5`. Both give the same digests; the tests below hold them to the
//! RFC 1321 vectors.
//!
//! `unsafe`: aws-lc's MD5 is reached through its C API (aws-lc-rs has no
//! MD5). The calls take a context this type owns and initialises in
//! [`Md5::new`], and slices whose pointer and length come from Rust;
//! aws-lc's `MD5_*` functions keep no pointer past the call.

/// An MD5 computation: bytes in with [`Md5::update`], the digest out with
/// [`Md5::finalize`].
pub struct Md5(imp::Context);

impl Md5 {
    /// An MD5 of no bytes yet.
    pub fn new() -> Md5 {
        Md5(imp::Context::new())
    }

    /// Takes the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of every byte taken.
    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize()
    }

    /// The digest of `data`.
    pub fn digest(data: &[u8]) -> [u8; 16] {
        let mut md5 = Md5::new();
        md5.update(data);
        md5.finalize()
    }
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5::new()
    }
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Md5")
    }
}

#[cfg(feature = "tls-aws-lc")]
mod imp {
    use aws_lc_sys::{MD5_CTX, MD5_Final, MD5_Init, MD5_Update};

    /// aws-lc's context: plain data (the chaining state, a partial
    /// block and counts), so it may move between threads and be dropped
    /// without a call.
    pub struct Context(MD5_CTX);

    impl Context {
        pub fn new() -> Context {
            let mut ctx = std::mem::MaybeUninit::<MD5_CTX>::uninit();
            // SAFETY: MD5_Init writes every field of the context it is
            // given (aws-lc `crypto/fipsmodule/md5/md5.c`) and returns 1;
            // only then is it read.
            let done = unsafe { MD5_Init(ctx.as_mut_ptr()) };
            debug_assert_eq!(done, 1, "MD5_Init cannot fail");
            // SAFETY: initialised by MD5_Init just above.
            Context(unsafe { ctx.assume_init() })
        }

        pub fn update(&mut self, data: &[u8]) {
            if data.is_empty() {
                return;
            }
            // SAFETY: the context was initialised by MD5_Init; `data` is
            // a live slice of `data.len()` bytes, read only during the
            // call.
            unsafe { MD5_Update(&mut self.0, data.as_ptr().cast(), data.len()) };
        }

        pub fn finalize(mut self) -> [u8; 16] {
            let mut out = [0u8; 16];
            // SAFETY: the context was initialised by MD5_Init; `out` has
            // the 16 bytes (MD5_DIGEST_LENGTH) MD5_Final writes.
            unsafe { MD5_Final(out.as_mut_ptr(), &mut self.0) };
            out
        }
    }
}

#[cfg(not(feature = "tls-aws-lc"))]
mod imp {
    use ::md5::Digest as _;

    pub struct Context(::md5::Md5);

    impl Context {
        pub fn new() -> Context {
            Context(::md5::Md5::new())
        }

        pub fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        pub fn finalize(self) -> [u8; 16] {
            self.0.finalize().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;

    fn hex(digest: [u8; 16]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 1321, appendix A.5.
    #[test]
    fn the_rfc_1321_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in vectors {
            assert_eq!(
                hex(Md5::digest(input)),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// Bytes taken in pieces of every awkward size give the digest of the
    /// whole: block boundaries, empty pieces, a piece of many blocks.
    #[test]
    fn pieces_hash_as_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = Md5::digest(&data);
        for piece in [1, 3, 55, 56, 63, 64, 65, 127, 128, 4096, 9999] {
            let mut md5 = Md5::new();
            for chunk in data.chunks(piece) {
                md5.update(chunk);
                md5.update(&[]);
            }
            assert_eq!(md5.finalize(), whole, "pieces of {piece}");
        }
    }

    /// A computation moved to another thread part-way (as a body's hashes
    /// move to their lane, `serve/hash_lane.rs`) goes on where it was.
    #[test]
    fn a_computation_moves_between_threads() {
        let mut md5 = Md5::new();
        md5.update(b"message ");
        let md5 = std::thread::spawn(move || {
            md5.update(b"digest");
            md5
        })
        .join()
        .unwrap();
        assert_eq!(hex(md5.finalize()), "f96b697d7cb7938d525a2f31aaf161d0");
    }
}

//! CRC-32C (Castagnoli), the checksum every stored byte passes through on
//! its way in (FERRY/1's trailer, the sidecar, S3's `crc32c`), at the
//! speed of the machine's carry-less multiply.
//!
//! The `crc32c` crate runs the SSE 4.2 `crc32` instruction three streams
//! at a time: 26–29 GB/s on this project's 2026 Xeon, 8 % of an HTTP
//! PUT's server samples on tmpfs (benches/notes/put_cpu.md, "CRC-32C
//! folded", for every figure here). Where the CPU has AVX2 and
//! VPCLMULQDQ (Intel since Ice Lake, AMD since Zen 3), [`append`] folds
//! 128 bytes a step with carry-less multiplies (Intel's "Fast CRC
//! computation for generic polynomials using PCLMULQDQ", 2009) at 48–58
//! GB/s, and hands the folded 16 bytes and the tail to the crate.
//! AMD's Zen 1 and 2 (SSE4a and SHA, no VPCLMULQDQ) run the `crc32`
//! instruction once per three cycles, where Intel's run it once a cycle:
//! the crate makes 5.6 GB/s on this project's Zen 1 EPYC, and 128-bit
//! folds (PCLMULQDQ), 64 bytes a step, 9.9 GB/s; so those CPUs fold in
//! 128 bits (Zen 2 unmeasured). AMD's older families keep the crate
//! (unmeasured: Bulldozer's carry-less multiply is several times slower
//! than Zen's in published instruction tables). On Intel before Ice Lake
//! the same folds would at best match the crate (Broadwell on) and lose
//! to it on Haswell. Anywhere else, and for short inputs, it is the
//! crate. Every CRC-32C
//! ferry computes goes through here (combining two stays the crate's).
//! Not AVX-512's 512-bit registers:
//! 61–79 GB/s on the same Xeon, but fewer CPUs have them, a thread that
//! touches them has the kernel save four times the vector state at
//! every switch, and some CPUs clock down for them; a PUT's server CPU
//! was the same within the spread (notes). crc-fast does all this and
//! more, but linked every CRC it knows: 0.75 MB, against the default
//! binary's 25 KB of headroom under its ceiling (benches/size_guard.sh).
//!
//! Why the folding is right (polynomials over GF(2), bit-reflected as the
//! CRC is): 16 bytes loaded little-endian are the polynomial
//! `X = H·x^64 + L`, the low quadword `H`. Moved `D` bits further on,
//! `X·x^D ≡ H·(x^(64+D) mod P) + L·(x^D mod P)` modulo the CRC's
//! polynomial `P`: two 64×32-bit carry-less products, XORed into the
//! 16 bytes found `D` bits on. A reflected product comes out one bit
//! shifted (it stands for `x·A·B`), so the constants are taken one power
//! lower. The CRC's running state is XORed into the first 4 bytes, as
//! the `crc32` instruction does; once everything is folded into 16
//! bytes, running those 16 bytes from a zero state gives the state
//! after the whole prefix. A test runs the same constants, with one,
//! two, four and eight registers' worth of lanes, through a carry-less
//! multiply in software, so they are checked on any CPU.
//!
//! `unsafe`: only the call into the folding functions, after the CPU was
//! seen to have what they are compiled for, and the unaligned loads of
//! whole steps, whose length the type carries.

/// Inputs shorter than this go to the crate whole. From here the fold is
/// ahead (256 bytes: 17 GB/s against 10 wide, 4.7 against 4.0 narrow;
/// 4 KiB: 52 against 22 wide, 9 against 5 narrow).
#[cfg(target_arch = "x86_64")]
const FOLD_FROM: usize = 256;

/// Extends `crc` (a finished CRC-32C, 0 for none yet) over `bytes`, as
/// `crc32c::crc32c_append` does.
pub fn append(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= FOLD_FROM {
        match Fold::of_this_cpu() {
            // SAFETY: `of_this_cpu` saw what the function enables.
            Some(Fold::Wide) => return unsafe { wide::append(crc, bytes) },
            // SAFETY: as above.
            Some(Fold::Narrow) => return unsafe { narrow::append(crc, bytes) },
            None => {}
        }
    }
    crc32c::crc32c_append(crc, bytes)
}

/// How this CPU folds, if it does (see the module's header).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Fold {
    /// 256-bit folds (AVX2 and VPCLMULQDQ).
    Wide,
    /// 128-bit folds (PCLMULQDQ), where the `crc32` instruction is slow.
    Narrow,
}

#[cfg(target_arch = "x86_64")]
impl Fold {
    /// The way of this CPU, asked once per process: `None` for the crate.
    fn of_this_cpu() -> Option<Fold> {
        static WAY: std::sync::OnceLock<Option<Fold>> = std::sync::OnceLock::new();
        *WAY.get_or_init(|| {
            use std::arch::is_x86_feature_detected as has;
            // Both widths multiply in 128 bits (PCLMULQDQ) and finish with
            // SSE 4.1; every VPCLMULQDQ CPU has both, asked for all the same.
            if !(has!("pclmulqdq") && has!("sse4.1")) {
                return None;
            }
            // What AVX2 implies (AVX) comes with it.
            if has!("avx2") && has!("vpclmulqdq") {
                return Some(Fold::Wide);
            }
            // AMD's Zen 1 and 2: SSE4a is AMD's own, SHA theirs since
            // Zen (not Bulldozer's nor Jaguar's), VPCLMULQDQ since Zen 3.
            (has!("sse4a") && has!("sha")).then_some(Fold::Narrow)
        })
    }
}

/// The CRC-32C of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    append(0, bytes)
}

/// The Castagnoli polynomial, x^32 included.
#[cfg(any(target_arch = "x86_64", test))]
const POLY: u64 = 0x1_1EDC_6F41;

/// `x^n mod P`, bit-reflected into the high half of a quadword, as
/// one operand of a reflected carry-less product wants it.
#[cfg(any(target_arch = "x86_64", test))]
const fn xpow(n: u32) -> u64 {
    let mut rem: u64 = 1;
    let mut i = 0;
    while i < n {
        rem <<= 1;
        if rem & (1 << 32) != 0 {
            rem ^= POLY;
        }
        i += 1;
    }
    ((rem as u32).reverse_bits() as u64) << 32
}

/// The two constants that move 16 bytes `bits` further on: for the low
/// quadword (`H`, x^(64+D)) and the high one (`L`, x^D), one power
/// lower for the reflected product's shift.
#[cfg(any(target_arch = "x86_64", test))]
const fn fold(bits: u32) -> (u64, u64) {
    (xpow(64 + bits - 1), xpow(bits - 1))
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use super::fold;
    use super::narrow::{BY_16, finish, fold_16};
    use std::arch::x86_64::{
        __m256i, _mm_set_epi64x, _mm256_castsi256_si128, _mm256_clmulepi64_epi128,
        _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_set_epi64x, _mm256_xor_si256,
        _mm256_zextsi128_si256,
    };

    /// Bytes folded per step: four 256-bit registers.
    const STEP: usize = 128;

    const BY_STEP: (u64, u64) = fold(8 * STEP as u32);
    const BY_32: (u64, u64) = fold(8 * 32);

    /// The constants for both lanes of a register, low quadword first.
    #[target_feature(enable = "avx2")]
    fn lanes((low, high): (u64, u64)) -> __m256i {
        let (low, high) = (low as i64, high as i64);
        _mm256_set_epi64x(high, low, high, low)
    }

    /// `acc` moved on by the constants `k` and XORed into `next`.
    #[target_feature(enable = "avx2,vpclmulqdq")]
    fn fold_into(acc: __m256i, k: __m256i, next: __m256i) -> __m256i {
        let low = _mm256_clmulepi64_epi128::<0x00>(acc, k);
        let high = _mm256_clmulepi64_epi128::<0x11>(acc, k);
        _mm256_xor_si256(_mm256_xor_si256(low, high), next)
    }

    /// [`super::append`] for at least one step's bytes.
    ///
    /// # Safety
    /// The CPU has AVX2, VPCLMULQDQ and PCLMULQDQ.
    #[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
    pub(super) unsafe fn append(crc: u32, bytes: &[u8]) -> u32 {
        let (steps, tail) = bytes.as_chunks::<STEP>();
        let Some((first, steps)) = steps.split_first() else {
            return crc32c::crc32c_append(crc, bytes);
        };
        let mut acc = load(first);
        // The running state goes into the first 4 bytes.
        acc[0] = _mm256_xor_si256(
            acc[0],
            _mm256_zextsi128_si256(_mm_set_epi64x(0, (!crc).into())),
        );
        let by_step = lanes(BY_STEP);
        for step in steps {
            let next = load(step);
            for (acc, next) in acc.iter_mut().zip(next) {
                *acc = fold_into(*acc, by_step, next);
            }
        }
        // Four registers into one, then its two lanes into one.
        let by_32 = lanes(BY_32);
        let mut one = fold_into(acc[0], by_32, acc[1]);
        one = fold_into(one, by_32, acc[2]);
        one = fold_into(one, by_32, acc[3]);
        let last = _mm256_castsi256_si128(one);
        finish(
            fold_16(last, BY_16, _mm256_extracti128_si256::<1>(one)),
            tail,
        )
    }

    /// One step's bytes as four registers.
    #[target_feature(enable = "avx2")]
    fn load(step: &[u8; STEP]) -> [__m256i; 4] {
        // SAFETY: four unaligned 32-byte loads within 128 bytes.
        unsafe {
            let at = step.as_ptr().cast::<__m256i>();
            [
                _mm256_loadu_si256(at),
                _mm256_loadu_si256(at.add(1)),
                _mm256_loadu_si256(at.add(2)),
                _mm256_loadu_si256(at.add(3)),
            ]
        }
    }
}

/// 128-bit folds: four registers, 64 bytes a step, for CPUs without
/// VPCLMULQDQ; and the last 16 bytes' fold and finish, for both widths.
#[cfg(target_arch = "x86_64")]
mod narrow {
    use super::fold;
    use std::arch::x86_64::{
        __m128i, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_extract_epi64, _mm_loadu_si128,
        _mm_set_epi64x, _mm_xor_si128,
    };

    /// Bytes folded per step: four 128-bit registers.
    const STEP: usize = 64;

    const BY_STEP: (u64, u64) = fold(8 * STEP as u32);
    pub(super) const BY_16: (u64, u64) = fold(8 * 16);

    /// `acc` moved on 16 bytes or a step by the constants and XORed into
    /// `next`.
    #[target_feature(enable = "sse4.1,pclmulqdq")]
    pub(super) fn fold_16(acc: __m128i, (low, high): (u64, u64), next: __m128i) -> __m128i {
        let k = _mm_set_epi64x(high as i64, low as i64);
        let low = _mm_clmulepi64_si128::<0x00>(acc, k);
        let high = _mm_clmulepi64_si128::<0x11>(acc, k);
        _mm_xor_si128(_mm_xor_si128(low, high), next)
    }

    /// The CRC from everything folded into `last`, then over `tail`:
    /// `last` run from a zero state gives the state after the prefix.
    #[target_feature(enable = "sse4.1")]
    pub(super) fn finish(last: __m128i, tail: &[u8]) -> u32 {
        let mut folded = [0u8; 16];
        folded[..8].copy_from_slice(&_mm_cvtsi128_si64(last).to_le_bytes());
        folded[8..].copy_from_slice(&_mm_extract_epi64::<1>(last).to_le_bytes());
        let state = !crc32c::crc32c_append(!0, &folded);
        crc32c::crc32c_append(!state, tail)
    }

    /// [`super::append`] for at least one step's bytes.
    ///
    /// # Safety
    /// The CPU has SSE 4.1 and PCLMULQDQ.
    #[target_feature(enable = "sse4.1,pclmulqdq")]
    pub(super) unsafe fn append(crc: u32, bytes: &[u8]) -> u32 {
        let (steps, tail) = bytes.as_chunks::<STEP>();
        let Some((first, steps)) = steps.split_first() else {
            return crc32c::crc32c_append(crc, bytes);
        };
        let mut acc = load(first);
        acc[0] = _mm_xor_si128(acc[0], _mm_set_epi64x(0, (!crc).into()));
        for step in steps {
            for (acc, next) in acc.iter_mut().zip(load(step)) {
                *acc = fold_16(*acc, BY_STEP, next);
            }
        }
        let [mut one, rest @ ..] = acc;
        for next in rest {
            one = fold_16(one, BY_16, next);
        }
        finish(one, tail)
    }

    /// One step's bytes as four registers.
    #[target_feature(enable = "sse4.1")]
    fn load(step: &[u8; STEP]) -> [__m128i; 4] {
        // SAFETY: four unaligned 16-byte loads within 64 bytes.
        unsafe {
            let at = step.as_ptr().cast::<__m128i>();
            [
                _mm_loadu_si128(at),
                _mm_loadu_si128(at.add(1)),
                _mm_loadu_si128(at.add(2)),
                _mm_loadu_si128(at.add(3)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic byte pattern with no short period.
    fn pattern(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// A CRC-32C extended over bytes.
    type Append = fn(u32, &[u8]) -> u32;

    /// Every way this CPU can take, whichever `append` chose: a CI
    /// machine with VPCLMULQDQ checks the narrow folds too.
    fn ways() -> Vec<(&'static str, Append)> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut ways: Vec<(&'static str, Append)> = vec![("append", append)];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("pclmulqdq") && has!("sse4.1") {
                // SAFETY: the features were just detected.
                ways.push(("narrow", |crc, bytes| unsafe { narrow::append(crc, bytes) }));
                if has!("avx2") && has!("vpclmulqdq") {
                    // SAFETY: as above.
                    ways.push(("wide", |crc, bytes| unsafe { wide::append(crc, bytes) }));
                }
            }
        }
        ways
    }

    #[test]
    fn agrees_with_the_crate_at_every_length_around_the_fold() {
        let bytes = pattern(4 * 1024 + 300, 7);
        for (way, append) in ways() {
            for len in (0..2100).chain([4096, 4096 + 255, 4096 + 300]) {
                for offset in [0, 1, 13] {
                    let piece = &bytes[offset..offset + len.min(bytes.len() - offset)];
                    for crc in [0, 0xdead_beef, u32::MAX] {
                        assert_eq!(
                            append(crc, piece),
                            crc32c::crc32c_append(crc, piece),
                            "{way}: len {} offset {offset} crc {crc:#x}",
                            piece.len()
                        );
                    }
                }
            }
        }
    }

    /// A carry-less 64×64-bit product, bit by bit.
    fn clmul(a: u64, b: u64) -> u128 {
        (0..64)
            .filter(|bit| b >> bit & 1 == 1)
            .fold(0, |product, bit| product ^ (u128::from(a) << bit))
    }

    /// The fold in software, `lanes` of 16 bytes a step with the
    /// module's constants, the lanes then folded into one 16 bytes apart:
    /// checks the constants, the state's place and the finish on any CPU
    /// (1 lane: the last 16 bytes'; 2: the wide registers' `BY_32`; 4:
    /// the narrow step's; 8: the wide step's).
    fn folded_in_software(crc: u32, bytes: &[u8], lanes: usize) -> u32 {
        let (blocks, _) = bytes.as_chunks::<16>();
        let steps = blocks.len() / lanes;
        if steps == 0 {
            return crc32c::crc32c_append(crc, bytes);
        }
        let moved = |acc: u128, (low, high): (u64, u64)| {
            clmul(acc as u64, low) ^ clmul((acc >> 64) as u64, high)
        };
        let by_step = fold(128 * lanes as u32);
        let mut acc: Vec<u128> = blocks[..lanes]
            .iter()
            .map(|b| u128::from_le_bytes(*b))
            .collect();
        acc[0] ^= u128::from(!crc);
        for step in blocks[lanes..steps * lanes].chunks(lanes) {
            for (acc, block) in acc.iter_mut().zip(step) {
                *acc = moved(*acc, by_step) ^ u128::from_le_bytes(*block);
            }
        }
        let one = acc[1..]
            .iter()
            .fold(acc[0], |one, next| moved(one, fold(128)) ^ next);
        let state = !crc32c::crc32c_append(!0, &one.to_le_bytes());
        crc32c::crc32c_append(!state, &bytes[steps * lanes * 16..])
    }

    #[test]
    fn the_constants_fold_right_on_any_cpu() {
        let bytes = pattern(700, 11);
        for lanes in [1, 2, 4, 8] {
            for len in 0..bytes.len() {
                for crc in [0, 0x1234_5678, u32::MAX] {
                    let piece = &bytes[..len];
                    assert_eq!(
                        folded_in_software(crc, piece, lanes),
                        crc32c::crc32c_append(crc, piece),
                        "{lanes} lanes, len {len} crc {crc:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn appends_as_one_pass_does() {
        let bytes = pattern(1 << 20, 3);
        let whole = checksum(&bytes);
        assert_eq!(whole, crc32c::crc32c(&bytes));
        let mut crc = 0;
        for piece in bytes.chunks(65_536 + 17) {
            crc = append(crc, piece);
        }
        assert_eq!(crc, whole);
    }

    #[test]
    fn the_check_value() {
        // The catalogue's check value for CRC-32C over "123456789".
        assert_eq!(checksum(b"123456789"), 0xe306_9283);
        let long: Vec<u8> = b"123456789".iter().copied().cycle().take(9 * 500).collect();
        assert_eq!(checksum(&long), crc32c::crc32c(&long));
    }
}

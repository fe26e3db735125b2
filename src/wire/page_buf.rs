//! Byte buffers that start on a page boundary: the reactor's read buffer,
//! the buffers a body is gathered in for the I/O pool's writes, and the
//! buffers whole files are read into for their checksums (the CRC-32C, a
//! zip member's CRC-32).
//!
//! Why: the kernel copies a body twice, out of the socket into the buffer
//! (`recv`) and out of the buffer into the file's pages (`write`), and a
//! file's pages into a checksum's buffer (`read`), and on this machine's
//! CPU (AMD Zen 3, `rep movsb`) those copies cost more when the
//! user-space side is not aligned with the page side. A heap
//! allocation of 256 KiB starts 16 bytes past a page (glibc puts its
//! header first): a first zip's CRC-32 threads spent ~22 % of the server's
//! CPU in that copy against ~3 % computing the CRC (`perf`, 1 GiB in 1,000
//! files on tmpfs; benches/notes/archive.md), and a PUT's
//! receive buffer the same way cost ~×1.2 the system time of a bare
//! recv+write loop (benches/notes/put_cpu.md). Alignment is had without
//! `unsafe`: the allocation is one page larger and the buffer starts at
//! its first page boundary.

/// The alignment every buffer here starts at.
pub const PAGE: usize = 4096;

/// Buffers smaller than this are plain `Vec`s: neither aligned nor
/// zeroed, so a small upload pays no page of slack and no zeroing (which
/// callgrind counts per 4 KiB PUT); their copies are short anyway.
pub const ALIGNED_FROM: usize = 64 * 1024;

/// A buffer of fixed capacity whose first byte is on a page boundary (if
/// it holds [`ALIGNED_FROM`] bytes or more). An aligned one's memory is
/// initialised once (zeroed on allocation), so a read may fill its spare
/// room in place ([`PageBuf::spare_mut`], then [`PageBuf::filled`]).
#[derive(Default)]
pub struct PageBuf {
    /// Aligned: `start` bytes of slack, then the buffer, all initialised.
    /// Small: exactly the bytes in use (`start` 0).
    mem: Vec<u8>,
    /// Where the buffer starts in `mem` (its first page boundary).
    start: usize,
    /// Bytes in use, from the start.
    len: usize,
    /// Bytes it holds at most (before it grows).
    capacity: usize,
    aligned: bool,
}

impl PageBuf {
    /// An empty buffer of `capacity` bytes (none allocated for 0).
    pub fn with_capacity(capacity: usize) -> PageBuf {
        if capacity < ALIGNED_FROM {
            return PageBuf {
                mem: Vec::with_capacity(capacity),
                capacity,
                ..PageBuf::default()
            };
        }
        // Zeroed memory comes fresh from the kernel for a buffer this
        // large (glibc maps it), or is zeroed once per upload.
        let mem = vec![0; capacity + PAGE - 1];
        let start = mem.as_ptr().align_offset(PAGE).min(PAGE - 1);
        PageBuf {
            mem,
            start,
            len: 0,
            capacity,
            aligned: true,
        }
    }

    /// `len` zeroed bytes, all in use: a buffer to read a file into
    /// ([`PageBuf::as_mut_slice`]), page-aligned from [`ALIGNED_FROM`].
    pub fn zeroed(len: usize) -> PageBuf {
        if len < ALIGNED_FROM {
            return PageBuf {
                mem: vec![0; len],
                len,
                capacity: len,
                ..PageBuf::default()
            };
        }
        let mut buf = PageBuf::with_capacity(len);
        buf.len = len;
        buf
    }

    /// The bytes in use, to be written.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + self.len]
    }

    /// Bytes it holds at most (before it grows).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left.
    pub fn room(&self) -> usize {
        self.capacity - self.len
    }

    /// Forgets the bytes in use (the memory stays).
    pub fn clear(&mut self) {
        self.len = 0;
        if !self.aligned {
            self.mem.clear();
        }
    }

    /// The bytes in use.
    pub fn as_slice(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }

    /// The whole buffer, in use or not (the reactor's scratch); empty for
    /// a small one, whose room is not initialised.
    pub fn all_mut(&mut self) -> &mut [u8] {
        debug_assert!(self.aligned || self.capacity == 0, "a small buffer");
        match self.aligned {
            true => &mut self.mem[self.start..self.start + self.capacity],
            false => &mut [],
        }
    }

    /// The room after the bytes in use, for a read to fill in place: only
    /// an aligned buffer's (a small one's room is not initialised).
    pub fn spare_mut(&mut self) -> Option<&mut [u8]> {
        let end = self.start + self.capacity;
        match self.aligned {
            true => Some(&mut self.mem[self.start + self.len..end]),
            false => None,
        }
    }

    /// `n` bytes of the spare room now hold data.
    pub fn filled(&mut self, n: usize) {
        debug_assert!(self.aligned && n <= self.room(), "filled past the room");
        if self.aligned {
            self.len = (self.len + n).min(self.capacity);
        }
    }

    /// Makes room for `n` more bytes: where there is too little, a new
    /// buffer (twice the capacity, or what is needed) with the bytes in
    /// use copied into it, as a `Vec` grows.
    pub fn reserve(&mut self, n: usize) {
        if n <= self.room() {
            return;
        }
        let wanted = self.len.saturating_add(n).max(self.capacity * 2);
        let mut grown = PageBuf::with_capacity(wanted);
        grown.extend_from_slice(self.as_slice());
        *self = grown;
    }

    /// Appends `data` (growing if it must).
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        match self.aligned {
            true => {
                let at = self.start + self.len;
                self.mem[at..at + data.len()].copy_from_slice(data);
            }
            false => self.mem.extend_from_slice(data),
        }
        self.len += data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_page_and_holds_its_capacity() {
        for capacity in [ALIGNED_FROM, ALIGNED_FROM + 1, 256 * 1024, 512 * 1024 + 7] {
            let mut buf = PageBuf::with_capacity(capacity);
            assert_eq!(buf.capacity(), capacity);
            assert_eq!(buf.all_mut().len(), capacity);
            assert_eq!(buf.all_mut().as_ptr() as usize % PAGE, 0);
        }
        assert_eq!(PageBuf::with_capacity(0).capacity(), 0);
        // A small one offers no room to read into.
        assert!(PageBuf::with_capacity(4096).spare_mut().is_none());
    }

    #[test]
    fn a_zeroed_buffer_is_all_in_use_and_aligned_when_large() {
        for len in [0, 1, 4096, ALIGNED_FROM - 1, ALIGNED_FROM, 256 * 1024] {
            let mut buf = PageBuf::zeroed(len);
            assert_eq!(buf.len(), len);
            let slice = buf.as_mut_slice();
            assert_eq!(slice.len(), len);
            assert!(slice.iter().all(|&b| b == 0));
            if len >= ALIGNED_FROM {
                assert_eq!(slice.as_ptr() as usize % PAGE, 0);
            }
        }
    }

    #[test]
    fn fills_in_place_and_by_copy() {
        let mut buf = PageBuf::with_capacity(ALIGNED_FROM);
        buf.extend_from_slice(b"abc");
        buf.spare_mut().unwrap()[..2].copy_from_slice(b"de");
        buf.filled(2);
        assert_eq!(buf.as_slice(), b"abcde");
        assert_eq!(buf.room(), ALIGNED_FROM - 5);
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.spare_mut().unwrap().len(), ALIGNED_FROM);
    }

    #[test]
    fn grows_as_a_vec_does_and_stays_aligned() {
        let mut buf = PageBuf::default();
        let mut expected = Vec::new();
        for i in 0..40_000u32 {
            let piece = i.to_le_bytes();
            buf.extend_from_slice(&piece);
            expected.extend_from_slice(&piece);
        }
        assert_eq!(buf.as_slice(), &expected[..]);
        // Past ALIGNED_FROM it grew into an aligned buffer.
        assert_eq!(buf.all_mut().as_ptr() as usize % PAGE, 0);
        assert!(buf.capacity() < 2 * expected.len() + 8);
    }
}

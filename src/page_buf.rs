//! Byte buffers that start on a page boundary: the reactor's read buffer
//! and the buffers a body is gathered in for the I/O pool's writes.
//!
//! Why: the kernel copies a body twice, out of the socket into the buffer
//! (`recv`) and out of the buffer into the file's pages (`write`), and on
//! this machine's CPU (AMD Zen 3, `rep movsb`) both copies cost more when
//! the user-space side is not aligned with the page side. A heap
//! allocation of 256 KiB starts 16 bytes past a page (glibc puts its
//! header first), which made ferry's system time per GiB of PUT ~×1.2 the
//! bare recv+write loop's with the same system calls (docs/performance.md,
//! "PUT: server CPU per GiB"). Alignment is had without `unsafe`: the
//! allocation is one page larger and the buffer starts at its first page
//! boundary.

/// The alignment every buffer here starts at.
pub const PAGE: usize = 4096;

/// A buffer of fixed capacity whose first byte is on a page boundary.
/// Its memory is initialised once (zeroed on allocation), so a read may
/// fill its spare room in place ([`PageBuf::spare_mut`], then
/// [`PageBuf::filled`]).
#[derive(Default)]
pub struct PageBuf {
    /// The allocation: `start` bytes of slack, then the buffer.
    mem: Vec<u8>,
    /// Where the buffer starts in `mem` (its first page boundary).
    start: usize,
    /// Bytes in use, from the start.
    len: usize,
}

impl PageBuf {
    /// An empty buffer of `capacity` bytes (none allocated for 0).
    pub fn with_capacity(capacity: usize) -> PageBuf {
        if capacity == 0 {
            return PageBuf::default();
        }
        // Zeroed memory comes fresh from the kernel for a buffer this
        // large: no pass over it here.
        let mem = vec![0; capacity + PAGE - 1];
        let start = mem.as_ptr().align_offset(PAGE).min(PAGE - 1);
        PageBuf { mem, start, len: 0 }
    }

    /// Bytes it holds at most.
    pub fn capacity(&self) -> usize {
        self.mem.len().saturating_sub(PAGE - 1)
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
        self.capacity() - self.len
    }

    /// Forgets the bytes in use (the memory stays).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The bytes in use.
    pub fn as_slice(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }

    /// The whole buffer, in use or not (the reactor's scratch).
    pub fn all_mut(&mut self) -> &mut [u8] {
        let end = self.start + self.capacity();
        &mut self.mem[self.start..end]
    }

    /// The room after the bytes in use, for a read to fill in place.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let end = self.start + self.capacity();
        &mut self.mem[self.start + self.len..end]
    }

    /// `n` bytes of the spare room now hold data.
    pub fn filled(&mut self, n: usize) {
        debug_assert!(n <= self.room(), "filled past the capacity");
        self.len = (self.len + n).min(self.capacity());
    }

    /// Makes room for `n` more bytes: where there is too little, a new
    /// buffer (twice the capacity, or what is needed) with the bytes in
    /// use copied into it, as a `Vec` grows.
    pub fn reserve(&mut self, n: usize) {
        if n <= self.room() {
            return;
        }
        let wanted = self.len.saturating_add(n).max(self.capacity() * 2);
        let mut grown = PageBuf::with_capacity(wanted);
        grown.extend_from_slice(self.as_slice());
        *self = grown;
    }

    /// Appends `data` (growing if it must).
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        self.spare_mut()[..data.len()].copy_from_slice(data);
        self.len += data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_page_and_holds_its_capacity() {
        for capacity in [1, 4095, 4096, 256 * 1024, 512 * 1024 + 7] {
            let mut buf = PageBuf::with_capacity(capacity);
            assert_eq!(buf.capacity(), capacity);
            assert_eq!(buf.all_mut().len(), capacity);
            assert_eq!(buf.all_mut().as_ptr() as usize % PAGE, 0);
        }
        assert_eq!(PageBuf::with_capacity(0).capacity(), 0);
    }

    #[test]
    fn fills_in_place_and_by_copy() {
        let mut buf = PageBuf::with_capacity(8);
        buf.extend_from_slice(b"abc");
        buf.spare_mut()[..2].copy_from_slice(b"de");
        buf.filled(2);
        assert_eq!(buf.as_slice(), b"abcde");
        assert_eq!(buf.room(), 3);
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.spare_mut().len(), 8);
    }

    #[test]
    fn grows_as_a_vec_does_and_stays_aligned() {
        let mut buf = PageBuf::default();
        let mut expected = Vec::new();
        for i in 0..1000u32 {
            let piece = i.to_le_bytes();
            buf.extend_from_slice(&piece);
            expected.extend_from_slice(&piece);
        }
        assert_eq!(buf.as_slice(), &expected[..]);
        assert_eq!(buf.all_mut().as_ptr() as usize % PAGE, 0);
        assert!(buf.capacity() < 2 * expected.len() + 8);
    }
}

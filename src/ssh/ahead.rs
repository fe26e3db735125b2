//! The SFTP channel's bytes read out of sunset that the connection has not
//! taken yet (`session.rs` fills and drains it). sunset holds one incoming
//! packet at a time, and a packet's data must be taken out before the next
//! is read, or a window adjustment or a key exchange behind it would never
//! arrive: so every packet's data is moved here at once, and the socket is
//! always read on.
//!
//! What bounds it is the channel's window: it re-opens only as the
//! connection takes bytes from here (sunset's `read_channel_held` and
//! `consumed_channel`, ferry's patch 6), so a client that keeps to the
//! window never has more than [`WINDOW`] here, however long the
//! connection waits (for the disk, or for a client that does not read its
//! answers); one that writes past it has its session ended. Bytes are
//! taken from the front by an offset, not copied down on every take.

/// The channel's window, and so the most held here.
pub(super) const WINDOW: usize = sunset::config::DEFAULT_WINDOW;

/// The channel's bytes the connection has not taken.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    bytes: Vec<u8>,
    /// The connection has taken `bytes[..at]`.
    at: usize,
}

impl Ahead {
    /// Whether nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// How many bytes wait.
    pub(super) fn len(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Whether more waits than the window lets a client send.
    pub(super) fn past_window(&self) -> bool {
        self.bytes.len() - self.at > WINDOW
    }

    /// Moves what fits of the front into `room`: how many bytes. Emptied,
    /// it holds no buffer (a session at rest holds none of its own).
    pub(super) fn take(&mut self, room: &mut [u8]) -> usize {
        let n = room.len().min(self.bytes.len() - self.at);
        room[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        if self.is_empty() {
            *self = Ahead::default();
        }
        n
    }

    /// Appends up to `len` bytes that `fill` writes into the room it is
    /// given (it says how many it wrote): `fill`'s answer.
    pub(super) fn append<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        if self.at > 0 && self.bytes.len() + len > self.bytes.capacity() {
            // What was taken goes before the buffer would grow.
            self.bytes.drain(..self.at);
            self.at = 0;
        }
        let end = self.bytes.len();
        self.bytes.resize(end + len, 0);
        let filled = fill(&mut self.bytes[end..]);
        let n = *filled.as_ref().unwrap_or(&0);
        self.bytes.truncate(end + n.min(len));
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_out_in_order_across_appends_and_takes() {
        let mut ahead = Ahead::default();
        let mut next = 0u8;
        let mut expected = 0u8;
        let mut room = [0; 700];
        for round in 0..50 {
            let len = 100 + round * 37;
            let wrote = ahead.append(len, |buf: &mut [u8]| {
                let n = buf.len() - round % 3;
                for b in &mut buf[..n] {
                    *b = next;
                    next = next.wrapping_add(1);
                }
                Ok::<_, ()>(n)
            });
            assert_eq!(wrote, Ok(len - round % 3));
            let took = ahead.take(&mut room[..(round * 53) % 700 + 1]);
            for &b in &room[..took] {
                assert_eq!(b, expected);
                expected = expected.wrapping_add(1);
            }
        }
        while !ahead.is_empty() {
            let took = ahead.take(&mut room);
            for &b in &room[..took] {
                assert_eq!(b, expected);
                expected = expected.wrapping_add(1);
            }
        }
        assert_eq!(expected, next);
        assert_eq!(ahead.bytes.capacity(), 0, "an empty one holds no buffer");
    }

    #[test]
    fn more_than_the_window_is_past_it() {
        let mut ahead = Ahead::default();
        ahead.append(WINDOW, |buf| Ok::<_, ()>(buf.len())).unwrap();
        assert!(!ahead.past_window());
        ahead.append(1, |buf| Ok::<_, ()>(buf.len())).unwrap();
        assert!(ahead.past_window());
        ahead.take(&mut [0; 1]);
        assert!(!ahead.past_window());
    }
}

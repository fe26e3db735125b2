//! The memory of an SSH session's packet buffers. sunset holds an input
//! and an output buffer of 35,000 bytes each (the largest packet) for the
//! session's whole life: nine tenths of what an idle SFTP session held
//! (~78 KB). Two things keep it small:
//!
//! - **At rest, the pages go back.** Once the connection has rested
//!   between requests a moment (`Config::ssh_rest`,
//!   `connection/deadline.rs`), or before its client has said anything
//!   (`SshSession::shed`), and neither buffer holds any of a packet, their
//!   whole pages go back to the kernel with `madvise(MADV_DONTNEED)`: the
//!   buffers keep their addresses, and a page comes back, zeroed, when the
//!   next packet touches it (a small request touches one page of each).
//!   Nothing is allocated, zeroed or freed when traffic resumes, and a
//!   bulk transfer, which never rests that long, pays nothing at all.
//! - **At the end, the mapping goes** ([`PacketMemory`]): the two
//!   buffers are a page-aligned mapping of the session's own, unmapped
//!   when it ends. Freed to the allocator, they stayed resident: glibc's
//!   malloc keeps a freed chunk that lies among live ones (only the heap's
//!   top is trimmed), and sunset zeroizes the buffers as it drops them,
//!   touching every page again. 10,000 connections opened first and
//!   logged in one after another held 0.73 GB at the end so.
//!
//! `unsafe`: `madvise` on memory the session owns and lends here as
//! `&mut`; all Rust sees of it is that the bytes then read as zeros. And
//! `mmap`/`munmap` of the mapping, whose two slices are lent to sunset's
//! runner as `'static`: the session drops the runner before the mapping.

use log::debug;
use sunset::Runner;

/// Gives back the whole pages inside `buf`; their bytes then read as
/// zeros (the rest of `buf` is left as it was).
pub fn give_back(buf: &mut [u8]) {
    let page = page_size();
    if page == 0 {
        return;
    }
    let skip = buf.as_ptr().align_offset(page).min(buf.len());
    let whole = (buf.len() - skip) / page * page;
    if whole == 0 {
        return;
    }
    let start = buf[skip..].as_mut_ptr();
    // SAFETY: `start..start + whole` lies inside `buf`, which is borrowed
    // mutably, so nothing else reads or writes it meanwhile; on private
    // anonymous memory (the heap's) MADV_DONTNEED only makes those bytes
    // read as zeros from now on, a value any `u8` may hold.
    let done = unsafe { libc::madvise(start.cast(), whole, libc::MADV_DONTNEED) };
    if done != 0 {
        // The memory stays as it was, merely held.
        debug!(
            "SSH buffers could not be given back: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Bytes of each packet buffer: the largest packet an SSH
/// implementation must take (RFC 4253, 6.1), sunset's own
/// `SSH_MAX_PACKET`, whose limits follow the buffers' lengths.
pub const PACKET_BUFFER: usize = 35_000;

/// sunset's two packet buffers in one anonymous mapping of their own,
/// each at a page boundary, unmapped on drop (see the module's header).
#[derive(Debug)]
pub struct PacketMemory {
    start: *mut u8,
    len: usize,
}

// SAFETY: the mapping is this value's alone (its slices are lent to the
// runner of the session that owns both); nothing in it is tied to a thread.
unsafe impl Send for PacketMemory {}

impl PacketMemory {
    /// Maps the two buffers: the mapping, the input buffer and the output
    /// buffer, or `None` where the kernel refuses (the caller lets sunset
    /// allocate them instead). The slices must be dropped before the
    /// mapping: their `'static` is the caller's promise.
    pub fn map() -> Option<(PacketMemory, &'static mut [u8], &'static mut [u8])> {
        let page = page_size();
        if page == 0 {
            return None;
        }
        let each = PACKET_BUFFER.div_ceil(page) * page;
        let len = 2 * each;
        // SAFETY: a fresh private anonymous mapping, aliasing nothing.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            debug!(
                "SSH buffers not mapped: {}",
                std::io::Error::last_os_error()
            );
            return None;
        }
        let start = start.cast::<u8>();
        // SAFETY: two disjoint ranges inside the mapping, readable and
        // writable, zeroed by the kernel; they live until `drop` unmaps
        // it, which the caller orders after the slices' last use.
        let (input, output) = unsafe {
            (
                std::slice::from_raw_parts_mut(start, PACKET_BUFFER),
                std::slice::from_raw_parts_mut(start.add(each), PACKET_BUFFER),
            )
        };
        Some((PacketMemory { start, len }, input, output))
    }
}

impl Drop for PacketMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping `map` made, whose slices are gone (the
        // owner drops them first); unmapped once.
        if unsafe { libc::munmap(self.start.cast(), self.len) } != 0 {
            debug!(
                "SSH buffers not unmapped: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// sunset's runner for a server's session, its packet buffers in a
/// [`PacketMemory`] where the kernel maps one (else sunset's own), which
/// the caller drops after the runner.
pub fn server_runner() -> (Runner<'static, sunset::Server>, Option<PacketMemory>) {
    match PacketMemory::map() {
        Some((memory, input, output)) => (Runner::new(input, output), Some(memory)),
        None => (Runner::new_server_owned(), None),
    }
}

/// The system's page size (0 if it cannot be told).
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_pages_read_as_zeros_and_the_edges_are_kept() {
        let mut buf = vec![7u8; 35_000];
        give_back(&mut buf);
        let page = page_size();
        let skip = buf.as_ptr().align_offset(page);
        let end = skip + (buf.len() - skip) / page * page;
        assert!(buf[..skip].iter().all(|&b| b == 7));
        assert!(buf[skip..end].iter().all(|&b| b == 0), "given back");
        assert!(buf[end..].iter().all(|&b| b == 7));
        // Usable as before.
        buf.fill(9);
        assert!(buf.iter().all(|&b| b == 9));
    }

    #[test]
    fn the_mapping_holds_two_page_aligned_buffers_of_a_packet_each() {
        let (memory, input, output) = PacketMemory::map().unwrap();
        let page = page_size();
        assert_eq!((input.len(), output.len()), (PACKET_BUFFER, PACKET_BUFFER));
        assert_eq!(input.as_ptr().align_offset(page), 0);
        assert_eq!(output.as_ptr().align_offset(page), 0);
        assert!(input.iter().chain(output.iter()).all(|&b| b == 0));
        input.fill(1);
        output.fill(2);
        assert!(input.iter().all(|&b| b == 1), "the two do not overlap");
        // Aligned, so all but the last partial page goes back.
        give_back(output);
        let whole = PACKET_BUFFER / page * page;
        assert!(output[..whole].iter().all(|&b| b == 0));
        assert!(output[whole..].iter().all(|&b| b == 2));
        drop(memory);
    }
}

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
//! runner as `'static`: [`SessionRunner`] owns both and drops the runner
//! before the mapping.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use log::{debug, warn};
use sunset::Runner;

/// Gives back the whole pages inside `buf`; their bytes then read as
/// zeros (the rest of `buf` is left as it was).
fn give_back(buf: &mut [u8]) {
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
    // mutably, so nothing else reads or writes it meanwhile; private
    // anonymous memory (the heap's, or a mapping's).
    unsafe { advise(start, whole) };
}

/// Bytes of each packet buffer: the largest packet an SSH
/// implementation must take (RFC 4253, 6.1), sunset's own
/// `SSH_MAX_PACKET`, whose limits follow the buffers' lengths.
pub const PACKET_BUFFER: usize = 35_000;

/// sunset's runner for a server's session, its packet buffers in a
/// [`PacketMemory`] of its own where the kernel maps one (else sunset's
/// own allocation). The one owner of both, so that the runner, which
/// holds the buffers as `'static` and zeroizes them as it drops, is
/// always dropped first, whatever else changes around it.
pub struct SessionRunner {
    runner: ManuallyDrop<Runner<'static, sunset::Server>>,
    memory: Option<PacketMemory>,
}

impl SessionRunner {
    /// A server's runner, its buffers mapped where the kernel allows.
    pub fn new() -> SessionRunner {
        // SAFETY: the slices go to `runner` alone, which `drop` drops
        // before `memory` (the mapping) and nothing else keeps.
        match unsafe { PacketMemory::map() } {
            Some((memory, input, output)) => SessionRunner {
                runner: ManuallyDrop::new(Runner::new(input, output)),
                memory: Some(memory),
            },
            None => SessionRunner {
                runner: ManuallyDrop::new(Runner::new_server_owned()),
                memory: None,
            },
        }
    }

    /// Gives back the memory of both packet buffers if neither holds any
    /// of a packet: whether it did. A mapped buffer's last partial page is
    /// its own (the next buffer begins on a page of its own), so it goes
    /// too; a buffer sunset allocated keeps its partial edges.
    pub fn give_back_idle(&mut self) -> bool {
        let mapped = self.memory.is_some();
        let Some((input, output)) = self.runner.idle_buffers() else {
            return false;
        };
        for buf in [input, output] {
            match mapped {
                // SAFETY: a mapped buffer begins a `PacketMemory::each`
                // stretch of the mapping that is its alone to its page's
                // end; borrowed mutably here, nobody reads it meanwhile.
                true => unsafe { advise(buf.as_mut_ptr(), round_up(buf.len())) },
                false => give_back(buf),
            }
        }
        true
    }
}

impl Deref for SessionRunner {
    type Target = Runner<'static, sunset::Server>;

    fn deref(&self) -> &Self::Target {
        &self.runner
    }
}

impl DerefMut for SessionRunner {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.runner
    }
}

impl Drop for SessionRunner {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, and never used after; `memory`, a
        // field, is dropped (unmapped) only after this body.
        unsafe { ManuallyDrop::drop(&mut self.runner) }
    }
}

/// sunset's two packet buffers in one anonymous mapping of their own,
/// each at a page boundary, unmapped on drop (see the module's header).
#[derive(Debug)]
struct PacketMemory {
    start: *mut u8,
    len: usize,
}

// SAFETY: the mapping is this value's alone (its slices are lent to the
// runner of the same `SessionRunner`); nothing in it is tied to a thread.
unsafe impl Send for PacketMemory {}

impl PacketMemory {
    /// Maps the two buffers: the mapping, the input buffer and the output
    /// buffer, or `None` where the kernel refuses (the caller lets sunset
    /// allocate them instead).
    ///
    /// # Safety
    /// The slices must not be used after the mapping is dropped, their
    /// owner's drop (sunset zeroizes them) included.
    unsafe fn map() -> Option<(PacketMemory, &'static mut [u8], &'static mut [u8])> {
        let each = round_up(PACKET_BUFFER);
        if each == 0 {
            return None;
        }
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
            warn_once(&MAP_FAILED, "mapped", "sunset allocates them instead");
            return None;
        }
        // Neighbouring sessions' mappings merge into one region; where
        // transparent huge pages are `always` (RHEL's default), a touch
        // would fault in 2 MiB of it and a rest give back none. A refusal
        // changes only that.
        // SAFETY: advice on the mapping just made.
        let _ = unsafe { libc::madvise(start, len, libc::MADV_NOHUGEPAGE) };
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
        // SAFETY: the mapping `map` made, whose slices are gone (its
        // `SessionRunner` dropped them first); unmapped once.
        if unsafe { libc::munmap(self.start.cast(), self.len) } != 0 {
            // Cutting a region out of the middle of merged ones takes a
            // new one, refused at `vm.max_map_count`: the addresses stay
            // taken, but the memory goes back.
            warn_once(&UNMAP_FAILED, "unmapped", "their memory given back");
            // SAFETY: as above; nothing uses the mapping any more.
            unsafe { advise(self.start, self.len) };
        }
    }
}

static MAP_FAILED: AtomicBool = AtomicBool::new(false);
static UNMAP_FAILED: AtomicBool = AtomicBool::new(false);

/// Says once per process (then at debug level) that the kernel refused
/// to map or unmap packet buffers (most likely `vm.max_map_count`, about
/// one region per live SSH session; docs/operating.md).
fn warn_once(said: &AtomicBool, what: &str, instead: &str) {
    let err = std::io::Error::last_os_error();
    match said.swap(true, Ordering::Relaxed) {
        false => warn!("SSH packet buffers not {what} ({err}): {instead}; see vm.max_map_count"),
        true => debug!("SSH packet buffers not {what}: {err}"),
    }
}

/// `MADV_DONTNEED` on `len` bytes from `start`, a page boundary.
///
/// # Safety
/// The range is private anonymous memory nobody else reads or writes
/// meanwhile (its bytes then read as zeros).
unsafe fn advise(start: *mut u8, len: usize) {
    // SAFETY: the caller's promise.
    if unsafe { libc::madvise(start.cast(), len, libc::MADV_DONTNEED) } != 0 {
        // The memory stays as it was, merely held.
        debug!(
            "SSH buffers could not be given back: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// `len` rounded up to whole pages (0 if the page size cannot be told).
fn round_up(len: usize) -> usize {
    let page = page_size();
    match page {
        0 => 0,
        page => len.div_ceil(page) * page,
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
        // SAFETY: the slices are dropped before the mapping (below).
        let (memory, input, output) = unsafe { PacketMemory::map() }.unwrap();
        let page = page_size();
        assert_eq!((input.len(), output.len()), (PACKET_BUFFER, PACKET_BUFFER));
        assert_eq!(input.as_ptr().align_offset(page), 0);
        assert_eq!(output.as_ptr().align_offset(page), 0);
        assert!(input.iter().chain(output.iter()).all(|&b| b == 0));
        input.fill(1);
        output.fill(2);
        assert!(input.iter().all(|&b| b == 1), "the two do not overlap");
        // A mapped buffer goes back to its last page's end, and no further.
        // SAFETY: the input buffer's own stretch of the mapping.
        unsafe { advise(input.as_mut_ptr(), round_up(input.len())) };
        assert!(input.iter().all(|&b| b == 0), "all of it given back");
        assert!(output.iter().all(|&b| b == 2), "the next one untouched");
        drop(memory);
    }

    #[test]
    fn an_idle_runner_gives_its_buffers_back_and_works_after() {
        let mut runner = SessionRunner::new();
        assert!(runner.memory.is_some(), "mapped here");
        assert!(runner.give_back_idle());
        assert!(!runner.is_output_pending());
        drop(runner);
    }
}

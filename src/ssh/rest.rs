//! An SSH session at rest gives back its packet buffers' memory. sunset
//! holds an input and an output buffer of 35,000 bytes each (the largest
//! packet) for the session's whole life: nine tenths of what an idle SFTP
//! session held (~78 KB). Once the connection has rested between requests
//! a moment (`Config::ssh_rest`, `connection/deadline.rs`) and neither
//! buffer holds any of a packet, their whole pages go back to the kernel
//! with `madvise(MADV_DONTNEED)`: the buffers keep their addresses, and a
//! page comes back, zeroed, when the next packet touches it (a small
//! request touches one page of each).
//!
//! Why pages and not the buffers: nothing is allocated, zeroed or freed
//! when traffic resumes, and a bulk transfer, which never rests that long,
//! pays nothing at all; and freeing would not lower the server's memory,
//! as glibc's malloc keeps a freed chunk that lies among live ones
//! resident (only the heap's top is trimmed).
//!
//! `unsafe`: `madvise` on memory the session owns and lends here as
//! `&mut`; all Rust sees of it is that the bytes then read as zeros.

use log::debug;

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
}

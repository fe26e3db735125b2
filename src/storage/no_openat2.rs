//! A kernel without `openat2`, for tests: a seccomp filter on one
//! thread that answers the call with `ENOSYS`, so a test can show that
//! every lookup beneath the root (`jail`'s `open_beneath`) still finds
//! what is there by its segment-by-segment walk.
//!
//! Test-only (`#[cfg(test)]` in `mod.rs`): it must never be built into the
//! server, and never filter any thread but the one it starts.

use std::io;

/// Runs `f` on a thread of its own whose `openat2` calls fail with
/// `ENOSYS`, as on a kernel without it (or under valgrind 3.19): a seccomp
/// filter on that thread alone (no `SECCOMP_FILTER_FLAG_TSYNC`), so the
/// other tests' threads keep theirs.
pub(super) fn without_openat2<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| {
            refuse_openat2();
            f()
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Installs, on the calling thread, a filter that answers `openat2` with
/// `ENOSYS` and lets every other call through.
fn refuse_openat2() {
    let op = |code, jf, k| libc::sock_filter { code, jt: 0, jf, k };
    let openat2 = u32::try_from(libc::SYS_openat2).unwrap();
    let enosys = u32::try_from(libc::ENOSYS).unwrap();
    let filter = [
        op(0x20, 0, 0),       // BPF_LD | BPF_W | BPF_ABS: seccomp_data.nr
        op(0x15, 1, openat2), // BPF_JMP | BPF_JEQ | BPF_K: else skip one
        op(0x06, 0, libc::SECCOMP_RET_ERRNO | enosys), // BPF_RET | BPF_K
        op(0x06, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let program = libc::sock_fprog {
        len: u16::try_from(filter.len()).unwrap(),
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: plain system calls; the program outlives the one that
    // copies it into the kernel.
    let (privs, seccomp) = unsafe {
        (
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &program,
            ),
        )
    };
    assert_eq!((privs, seccomp), (0, 0), "{}", io::Error::last_os_error());
}

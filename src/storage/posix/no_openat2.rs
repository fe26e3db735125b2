//! A kernel without `openat2`, for tests: a seccomp filter on one
//! thread that answers the call with `ENOSYS`, so a test can show that
//! every lookup beneath the root (`jail`'s `open_beneath`) still finds
//! what is there by its segment-by-segment walk; and the one place a test
//! learns whether `openat2` answers here at all.
//!
//! Under qemu-user (the ARM builds' tests in CI) there is neither: qemu
//! has no `openat2` (it answers `ENOSYS`, as a kernel before 5.6) and
//! refuses to install a seccomp filter, which would filter qemu itself.
//! There the tests that need `openat2` say they are skipped and why, and
//! those that need it refused run as they are, since it already is.
//!
//! Test-only (`#[cfg(test)]` in `mod.rs`): it must never be built into the
//! server, and never filter any thread but the one it starts.

use std::io;

use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};

/// Runs `f` on a thread of its own whose `openat2` calls fail with
/// `ENOSYS`, as on a kernel without it (or under valgrind 3.19): a seccomp
/// filter on that thread alone (no `SECCOMP_FILTER_FLAG_TSYNC`), so the
/// other tests' threads keep theirs.
///
/// Where the filter cannot be installed (qemu-user, a kernel without
/// seccomp filters), `f` still runs if `openat2` is refused anyway, and
/// the test says so; otherwise it is skipped, saying why, and this
/// returns `None`. `test` names the test in those lines.
pub(super) fn without_openat2<T: Send>(test: &str, f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        let thread = scope.spawn(|| match refuse_openat2() {
            Ok(()) => {
                assert!(!openat2_answers(), "the filter refuses openat2");
                Some(f())
            }
            Err(err) if !openat2_answers() => {
                eprintln!(
                    "{test}: no seccomp filter here ({err}), but openat2 is refused \
                     anyway (qemu-user, or a kernel before 5.6): run without it"
                );
                Some(f())
            }
            Err(err) => {
                eprintln!("skipped: {test}: cannot refuse openat2 with a seccomp filter: {err}");
                None
            }
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Whether `openat2` answers on this thread; when it does not (qemu-user,
/// a kernel before 5.6, valgrind 3.19), says that `test`, which needs it,
/// is skipped, so the caller returns.
pub(super) fn openat2_or_skip(test: &str) -> bool {
    let answers = openat2_answers();
    if !answers {
        eprintln!("skipped: {test}: openat2 is refused here (qemu-user, or a kernel before 5.6)");
    }
    answers
}

/// Whether an `openat2` of the current folder answers other than
/// `ENOSYS` or `EPERM` (what `jail`'s `open_beneath` takes for refused).
fn openat2_answers() -> bool {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    !matches!(
        rustix::fs::openat2(CWD, ".", flags, Mode::empty(), ResolveFlags::empty()),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM)
    )
}

/// Installs, on the calling thread, a filter that answers `openat2` with
/// `ENOSYS` and lets every other call through.
///
/// # Errors
/// The kernel's (or qemu-user's) answer where it refuses the filter.
fn refuse_openat2() -> io::Result<()> {
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
    let privs = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if privs != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let seccomp = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &program,
        )
    };
    if seccomp != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

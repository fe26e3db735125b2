//! What systemd offers a service, without linking libsystemd: readiness
//! and state notifications (`sd_notify`, a datagram to `$NOTIFY_SOCKET`) and
//! socket activation (listeners inherited as descriptors 3.. with
//! `$LISTEN_FDS`, `$LISTEN_PID` and `$LISTEN_FDNAMES`).
//!
//! Both are inert outside systemd: no variable, nothing done. Socket
//! activation lets the unit own the privileged or well-known ports and
//! keeps connections queued in the kernel across a restart.
//!
//! ```text
//! LISTEN_PID=<our pid> LISTEN_FDS=2 LISTEN_FDNAMES=ferry:http
//!   fd 3: the FERRY/1 listener    fd 4: the HTTP listener
//! ```

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;

use log::{debug, warn};

use crate::wire::Protocol;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

/// A listening socket systemd opened for us, and what it serves.
#[derive(Debug)]
pub struct Inherited {
    pub protocol: Protocol,
    pub socket: std::net::TcpListener,
}

/// The listeners systemd passed this process, if any.
///
/// Each is named by `FileDescriptorName=` in the socket unit: `ferry` (or
/// `ferry.socket`, systemd's default name) serves FERRY/1 and `http`
/// serves HTTP; unnamed ones are FERRY/1 then HTTP, in order.
///
/// # Errors
/// The variables are malformed, a descriptor is not a TCP listener, a name
/// is unknown, or a protocol is given twice.
pub fn inherited_listeners() -> io::Result<Vec<Inherited>> {
    let Some(count) = passed_count()? else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|names| names.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut listeners: Vec<Inherited> = Vec::with_capacity(count);
    for index in 0..count {
        let fd = FIRST_FD + i32::try_from(index).map_err(|_| invalid("LISTEN_FDS too large"))?;
        // SAFETY: only looked at, to see that it is open before owning it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed).is_err() {
            return Err(invalid(&format!("descriptor {fd} was not passed")));
        }
        // SAFETY: open (just checked), passed to this process alone (checked
        // against LISTEN_PID), and taken once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let protocol = protocol_named(names.get(index).map(String::as_str), index)?;
        if listeners.iter().any(|l| l.protocol == protocol) {
            return Err(invalid("two sockets passed for one protocol"));
        }
        listeners.push(Inherited {
            protocol,
            socket: listener(owned, fd)?,
        });
    }
    listeners.sort_by_key(|l| l.protocol != Protocol::Ferry);
    Ok(listeners)
}

/// What the socket named `name` (`FileDescriptorName=`), passed at
/// `index`, serves: a protocol by its name ([`Protocol::name`]; `ferry.socket`
/// is systemd's default name for the FERRY/1 one); an unnamed socket
/// serves the protocol at its place in [`Protocol::ALL`].
fn protocol_named(name: Option<&str>, index: usize) -> io::Result<Protocol> {
    match name {
        Some("ferry.socket") => Ok(Protocol::Ferry),
        None | Some("" | "unknown") => Protocol::ALL
            .get(index)
            .copied()
            .ok_or_else(|| invalid("more unnamed sockets passed than there are protocols")),
        Some(name) => Protocol::named(name).ok_or_else(|| {
            let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
            invalid(&format!(
                "socket named {name:?} passed (name them {})",
                names.join(" or ")
            ))
        }),
    }
}

/// `LISTEN_FDS` if `LISTEN_PID` names this process.
fn passed_count() -> io::Result<Option<usize>> {
    let (Ok(pid), Ok(count)) = (std::env::var("LISTEN_PID"), std::env::var("LISTEN_FDS")) else {
        return Ok(None);
    };
    let ours = rustix::process::getpid().as_raw_nonzero().get();
    if pid.parse::<i32>().ok() != Some(ours) {
        // Meant for another process (a parent's, inherited by mistake).
        debug!("LISTEN_PID {pid} is not ours ({ours}): no sockets inherited");
        return Ok(None);
    }
    let count = count
        .parse::<usize>()
        .map_err(|_| invalid("LISTEN_FDS is not a number"))?;
    Ok((count > 0).then_some(count))
}

/// Checks that `fd` is a listening TCP socket and readies it for the loop:
/// close-on-exec (hooks must not inherit it) and nonblocking.
fn listener(owned: OwnedFd, fd: i32) -> io::Result<std::net::TcpListener> {
    use rustix::net::{SocketType, sockopt};
    let is_tcp_listener = sockopt::socket_type(&owned)? == SocketType::STREAM
        && sockopt::socket_acceptconn(&owned)?
        && rustix::net::getsockname(&owned)
            .ok()
            .is_some_and(|addr| std::net::SocketAddr::try_from(addr).is_ok());
    if !is_tcp_listener {
        return Err(invalid(&format!(
            "descriptor {fd} passed by systemd is not a listening TCP socket"
        )));
    }
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
    let socket = std::net::TcpListener::from(owned);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("socket activation: {why}"),
    )
}

/// Tells systemd (or whatever set `$NOTIFY_SOCKET`) about a change of
/// state: `READY=1`, `STOPPING=1`, `STATUS=...`. Best effort: a failure is
/// logged, never fatal, as the service manager may have gone away.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(err) = send(&path, state) {
        warn!(
            "cannot notify the service manager ({}): {err}",
            path.display()
        );
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_bytes();
    match bytes.strip_prefix(b"@") {
        // A name in the abstract namespace, as systemd uses in containers.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        }
        None => {
            socket.send_to(state.as_bytes(), path)?;
        }
    }
    Ok(())
}

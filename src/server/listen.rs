//! Listening sockets: one per address for one reactor, or one per address
//! *per reactor* with `SO_REUSEPORT` for `--workers N`.
//!
//! With `SO_REUSEPORT` the kernel spreads new connections over the N
//! sockets by a hash of their addresses, so each reactor accepts only its
//! own share, with no lock and no hand-off (nginx's `reuseport`). The
//! alternatives, and why not (measured: docs/performance.md, "Workers"):
//!
//! - One accepting thread handing sockets to the reactors costs a hand-off
//!   (a channel and a wake-up) per connection and a thread of its own, and
//!   that thread becomes the ceiling for short connections on many cores.
//! - One shared socket in every reactor's epoll with `EPOLLEXCLUSIVE`
//!   (nginx's default) measured the same or slightly dearer per connection
//!   on nginx, spreads as evenly, and mio does not expose the flag.
//!
//! The price of `SO_REUSEPORT`: a reactor stuck in a long turn delays the
//! connections hashed to it, and any process of the same user could join
//! the group. The second is checked before the group is made: the address
//! is first bound plainly, so a port some other process holds (a second
//! ferry, with or without workers) is refused as it always was.
//!
//! Every listening socket, one or a group, queues as many connections as
//! the kernel allows (`net.core.somaxconn`, 4,096 on current kernels) or
//! `--backlog N`: a storm of connects (10,000 devices after a network
//! outage, a pool opening its connections at once) waits in the queue for
//! the accept loop instead of losing SYNs and retrying a second later.
//! std's and mio's `bind` queue 128, nginx 511.

use std::io;
use std::net::SocketAddr;

use log::{info, warn};
use mio::net::TcpListener;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::systemd::Inherited;
use crate::config::{Config, Listen};
use crate::wire::Protocol;

/// Each configured listener with its sockets, one per reactor:
/// `groups[listener].1[reactor]`, in the configuration's order.
pub(super) type Groups = Vec<(Listen, Vec<TcpListener>)>;

/// Binds the configured addresses, one group for each, and records the
/// address each was bound to (port 0 chosen).
///
/// # Errors
/// An address is in use or cannot be bound.
pub(super) fn bind_groups(config: &Config, reactors: usize) -> io::Result<Groups> {
    let backlog = Backlog::configured(config.backlog);
    let mut groups = Vec::new();
    for &listen in &config.listeners {
        let addr = listen.addr;
        // Named here: with several listeners, the error alone does not say
        // which address is taken.
        let group = bind_group(addr, reactors, backlog).map_err(|err| cannot_listen(addr, &err))?;
        let addr = group[0].local_addr()?;
        groups.push((Listen { addr, ..listen }, group));
    }
    Ok(groups)
}

/// `addr` could not be bound: the address named (with several
/// listeners, the error alone does not say which is taken) and, where
/// another program holds it (a second ferry, say: README's Quick start),
/// the way out.
pub(super) fn cannot_listen(addr: SocketAddr, err: &io::Error) -> io::Error {
    let hint = match err.kind() {
        io::ErrorKind::AddrInUse => {
            ": another program holds that port; give this listener another (port 0: any free one)"
        }
        _ => "",
    };
    io::Error::new(err.kind(), format!("cannot listen on {addr}: {err}{hint}"))
}

/// Serves the listeners systemd passed instead of the configured addresses,
/// each over TLS if `tls` (a certificate is configured). Every reactor
/// polls the one socket (a duplicate each): a new connection wakes them
/// all and one wins the accept, a small cost with few workers, and the
/// price of letting systemd hold the port. Their queue is the unit's
/// `Backlog=` unless `--backlog` (`backlog`) is given: then it is that
/// (`listen` again on a listening socket sets its queue anew).
///
/// # Errors
/// No FERRY/1 socket was passed, or a descriptor cannot be duplicated.
pub(super) fn adopt_groups(
    inherited: Vec<Inherited>,
    reactors: usize,
    (tls, backlog): (bool, Option<u32>),
) -> io::Result<Groups> {
    if inherited.first().map(|l| l.protocol) != Some(Protocol::Ferry) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket activation: no FERRY/1 socket passed (name it ferry)",
        ));
    }
    let mut groups = Vec::new();
    for Inherited { protocol, socket } in inherited {
        let addr = socket.local_addr()?;
        info!("serving {} on {addr} from systemd", protocol.name());
        if backlog.is_some() {
            rustix::net::listen(&socket, Backlog::configured(backlog).0)?;
        }
        let mut group = Vec::with_capacity(reactors);
        for _ in 1..reactors {
            group.push(TcpListener::from_std(socket.try_clone()?));
        }
        group.push(TcpListener::from_std(socket));
        groups.push((
            Listen {
                addr,
                protocol,
                tls,
            },
            group,
        ));
    }
    Ok(groups)
}

/// Connections the kernel queues for a listener before we accept them:
/// the argument to `listen`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backlog(i32);

impl Backlog {
    /// `--backlog N`, or by default the most the kernel allows: it cuts a
    /// larger request down to `net.core.somaxconn`, so asking for the
    /// most there is takes whatever the host was tuned to.
    pub(super) fn configured(backlog: Option<u32>) -> Backlog {
        Backlog(backlog.map_or(i32::MAX, |n| i32::try_from(n).unwrap_or(i32::MAX)))
    }

    /// Says so once at start if `--backlog` asks for more than the kernel
    /// gives: the operator meant a longer queue than they will get.
    pub(super) fn check(backlog: Option<u32>) {
        if let (Some(asked), Some(most)) = (backlog, kernel_most())
            && asked > most
        {
            warn!(
                "--backlog {asked} is above the kernel's net.core.somaxconn ({most}): \
                 listeners queue {most} (raise it with sysctl)"
            );
        }
    }
}

/// The longest queue the kernel lets a listener have, if it says.
pub(super) fn kernel_most() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok()?;
    text.trim().parse().ok()
}

/// Binds `addr` once per reactor: a plain socket for one, a
/// `SO_REUSEPORT` group for more (port 0 picks one free port for all).
///
/// # Errors
/// The address is in use or cannot be bound.
pub(super) fn bind_group(
    addr: SocketAddr,
    reactors: usize,
    backlog: Backlog,
) -> io::Result<Vec<TcpListener>> {
    if reactors <= 1 {
        return Ok(vec![bind_one(addr, Sharing::Alone, backlog)?]);
    }
    let addr = match addr.port() {
        0 => addr,
        // Refused here if anyone holds the port; the group joins it after.
        _ => std::net::TcpListener::bind(addr)?.local_addr()?,
    };
    let first = bind_one(addr, Sharing::Group, backlog)?;
    // Port 0 was chosen by the first bind: the others join that port.
    let addr = first.local_addr()?;
    let mut group = vec![first];
    for _ in 1..reactors {
        group.push(bind_one(addr, Sharing::Group, backlog)?);
    }
    Ok(group)
}

/// Whether other sockets of this process may bind a listener's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sharing {
    /// No: the port is this socket's.
    Alone,
    /// Yes (`SO_REUSEPORT`): one socket of a reactor group.
    Group,
}

/// A nonblocking listener on `addr` queuing `backlog` connections.
///
/// # Errors
/// The address is in use or cannot be bound.
pub(super) fn bind_one(
    addr: SocketAddr,
    sharing: Sharing,
    backlog: Backlog,
) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    // As std's bind: a port whose old connections linger in TIME_WAIT
    // can be bound again at once.
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    if sharing == Sharing::Group {
        rustix::net::sockopt::set_socket_reuseport(&socket, true)?;
    }
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, backlog.0)?;
    Ok(TcpListener::from_std(std::net::TcpListener::from(socket)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_shares_one_port_and_a_held_port_is_refused() {
        let most = Backlog::configured(None);
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3, most).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
        let held = SocketAddr::from(([127, 0, 0, 1], port));
        let err = bind_group(held, 2, most).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let err = bind_group(held, 1, most).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    /// A storm of connects waits in the queue, none of it dropped, while
    /// nothing accepts (as while the loop is busy): more than the 128
    /// that std's and mio's `bind` queue.
    #[test]
    fn a_listener_queues_as_many_connections_as_the_kernel_allows() {
        let most = kernel_most().unwrap_or(4096);
        if most <= 128 {
            eprintln!("skipped: net.core.somaxconn is {most}, no more than std's queue");
            return;
        }
        let storm = most.min(600) as usize;
        for sharing in [Sharing::Alone, Sharing::Group] {
            let addr = "127.0.0.1:0".parse().unwrap();
            let listener = bind_one(addr, sharing, Backlog::configured(None)).unwrap();
            let addr = listener.local_addr().unwrap();
            // A dropped SYN is retried after a second: each connect
            // would wait out its bound instead of completing at once.
            let patience = std::time::Duration::from_secs(5);
            let queued: Vec<_> = (0..storm)
                .map(|n| std::net::TcpStream::connect_timeout(&addr, patience).map_err(|e| (n, e)))
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(queued.len(), storm);
        }
    }
}

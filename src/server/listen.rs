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

use std::io;
use std::net::SocketAddr;

use log::info;
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
    let mut groups = Vec::new();
    for &listen in &config.listeners {
        let addr = listen.addr;
        // Named here: with several listeners, the error alone does not say
        // which address is taken.
        let group = bind_group(addr, reactors).map_err(|err| cannot_listen(addr, &err))?;
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
/// price of letting systemd hold the port.
///
/// # Errors
/// No FERRY/1 socket was passed, or a descriptor cannot be duplicated.
pub(super) fn adopt_groups(
    inherited: Vec<Inherited>,
    reactors: usize,
    tls: bool,
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

/// Connections the kernel queues for a listener before we accept them
/// (as mio's own `TcpListener::bind`).
const BACKLOG: i32 = 1024;

/// Binds `addr` once per reactor: a plain socket for one, a
/// `SO_REUSEPORT` group for more (port 0 picks one free port for all).
///
/// # Errors
/// The address is in use or cannot be bound.
pub(super) fn bind_group(addr: SocketAddr, reactors: usize) -> io::Result<Vec<TcpListener>> {
    if reactors <= 1 {
        return Ok(vec![TcpListener::bind(addr)?]);
    }
    let addr = match addr.port() {
        0 => addr,
        // Refused here if anyone holds the port; the group joins it after.
        _ => std::net::TcpListener::bind(addr)?.local_addr()?,
    };
    let first = bind_shared(addr)?;
    // Port 0 was chosen by the first bind: the others join that port.
    let addr = first.local_addr()?;
    let mut group = vec![first];
    for _ in 1..reactors {
        group.push(bind_shared(addr)?);
    }
    Ok(group)
}

/// A nonblocking listener on `addr` that other sockets of this process
/// can bind too (`SO_REUSEPORT`).
fn bind_shared(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    // As std's bind: a port whose old connections linger in TIME_WAIT
    // can be bound again at once.
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::sockopt::set_socket_reuseport(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, BACKLOG)?;
    Ok(TcpListener::from_std(std::net::TcpListener::from(socket)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_shares_one_port_and_a_held_port_is_refused() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
        let held = SocketAddr::from(([127, 0, 0, 1], port));
        let err = bind_group(held, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let err = bind_group(held, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}

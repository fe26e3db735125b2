//! Listening sockets: one per address, polled by every reactor.
//!
//! Each reactor registers its own duplicate of the address's one socket
//! with `EPOLLEXCLUSIVE` (nginx's default): a new connection wakes one
//! reactor that waits in `epoll_wait`, and a reactor busy with a long turn
//! only finds the socket marked ready when it comes back (mostly nothing
//! left to take). So connections go to the loop that is free to serve them
//! now. A reactor that took connections moves to the back of the
//! socket's wait queue (`requeue`), so that an idle reactor first in the
//! queue does not take every connection opened one after another. The
//! alternatives, and why not (measured: benches/notes/workers.md):
//!
//! - A `SO_REUSEPORT` socket per reactor (ferry until issue 76) spreads
//!   connections by a fixed hash of their addresses, free or not: on a
//!   2-core host where the client takes a core, two loops served 0.95x
//!   what one did, where a shared socket serves more than one.
//! - One accepting thread handing sockets to the reactors costs a hand-off
//!   (a channel and a wake-up) per connection and a thread of its own, and
//!   that thread becomes the ceiling for short connections on many cores.
//!
//! mio does not expose `EPOLLEXCLUSIVE`, so `watch` adds the socket to the
//! reactor's epoll itself, with the token as mio stores it (the event's
//! `u64`), and `unwatch` removes it. Systemd's sockets are shared the same
//! way. One socket also means a port another process holds is refused by
//! the plain `bind`, as it always was.
//!
//! Every listening socket queues as many connections as the kernel allows
//! (`net.core.somaxconn`, 4,096 on current kernels) or `--backlog N`: a
//! storm of connects (10,000 devices after a network outage, a pool
//! opening its connections at once) waits in the queue for the accept loop
//! instead of losing SYNs and retrying a second later. std's and mio's
//! `bind` queue 128, nginx 511.

use std::io;
use std::net::SocketAddr;

use std::os::fd::{AsRawFd, BorrowedFd};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Registry, Token};
use rustix::event::epoll::{self, EventData, EventFlags};
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
/// each over TLS if `tls` (a certificate is configured), shared by the
/// reactors as bound ones are. Their queue is the unit's
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
        let group = share(socket, reactors)?;
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

/// Binds `addr` once and gives each of `reactors` a duplicate of the
/// socket (port 0 picks one free port for all).
///
/// # Errors
/// The address is in use or cannot be bound, or a descriptor cannot be
/// duplicated.
pub(super) fn bind_group(
    addr: SocketAddr,
    reactors: usize,
    backlog: Backlog,
) -> io::Result<Vec<TcpListener>> {
    share(bind_one(addr, backlog)?.into(), reactors)
}

/// `socket` as `reactors` listeners, duplicates of one open socket.
fn share(socket: std::net::TcpListener, reactors: usize) -> io::Result<Vec<TcpListener>> {
    let mut group = Vec::with_capacity(reactors);
    for _ in 1..reactors {
        group.push(TcpListener::from_std(socket.try_clone()?));
    }
    group.push(TcpListener::from_std(socket));
    Ok(group)
}

/// A nonblocking listener on `addr` queuing `backlog` connections.
///
/// # Errors
/// The address is in use or cannot be bound.
pub(super) fn bind_one(addr: SocketAddr, backlog: Backlog) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    // As std's bind: a port whose old connections linger in TIME_WAIT
    // can be bound again at once.
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, backlog.0)?;
    Ok(TcpListener::from_std(std::net::TcpListener::from(socket)))
}

/// Polls `socket`, this reactor's duplicate of a shared listener, as
/// `token` with `EPOLLEXCLUSIVE`: of the reactors waiting for work, one is
/// woken per new connection (see the module's header). Edge-triggered, as
/// mio registers everything, so the accept loop drains until `WouldBlock`.
///
/// # Errors
/// `epoll_ctl` fails (a kernel before 4.5 has no `EPOLLEXCLUSIVE`).
pub(super) fn watch(registry: &Registry, socket: &TcpListener, token: Token) -> io::Result<()> {
    let flags = EventFlags::IN | EventFlags::ET | EventFlags::EXCLUSIVE;
    // mio reads an event's token back from its `u64` (its epoll selector).
    let data = EventData::new_u64(usize::from(token) as u64);
    Ok(epoll::add(poll_fd(registry), socket, data, flags)?)
}

/// Stops polling `socket` (registered by `watch`, which mio's `deregister`
/// does not know of). The other reactors' duplicates keep the socket open,
/// so closing this one would not remove it from this reactor's epoll.
pub(super) fn unwatch(registry: &Registry, socket: &TcpListener) {
    if let Err(err) = epoll::delete(poll_fd(registry), socket) {
        debug!("stop polling a listener: {err}");
    }
}

/// Polls `socket` anew (removed and added again): this reactor's entry
/// goes to the back of the socket's wait queue, and the kernel wakes the
/// first waiter of that queue, so the next connection wakes another
/// reactor if one waits. Without it an idle reactor first in the queue
/// takes every connection opened one after another, and connections stay
/// where they were accepted. Nothing is lost in between: adding a socket
/// that is ready reports it at once.
///
/// # Errors
/// `epoll_ctl` fails.
pub(super) fn requeue(registry: &Registry, socket: &TcpListener, token: Token) -> io::Result<()> {
    epoll::delete(poll_fd(registry), socket)?;
    watch(registry, socket, token)
}

/// The epoll descriptor behind mio's `registry`.
fn poll_fd(registry: &Registry) -> BorrowedFd<'_> {
    // SAFETY: the registry owns the descriptor and outlives the borrow.
    unsafe { BorrowedFd::borrow_raw(registry.as_raw_fd()) }
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
        let addr = "127.0.0.1:0".parse().unwrap();
        let listener = bind_one(addr, Backlog::configured(None)).unwrap();
        let addr = listener.local_addr().unwrap();
        // A dropped SYN is retried after a second: each connect would
        // wait out its bound instead of completing at once.
        let patience = std::time::Duration::from_secs(5);
        let queued: Vec<_> = (0..storm)
            .map(|n| std::net::TcpStream::connect_timeout(&addr, patience).map_err(|e| (n, e)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(queued.len(), storm);
    }

    /// A watched duplicate reports a new connection under its token to
    /// each reactor's poll (neither waits here, so both are told: the
    /// exclusive wake-up picks among waiters only), and one accepts it.
    #[test]
    fn every_reactor_watching_a_shared_listener_hears_of_a_connection_and_one_takes_it() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2, Backlog::configured(None));
        let group = group.unwrap();
        let polls = [mio::Poll::new().unwrap(), mio::Poll::new().unwrap()];
        for (poll, socket) in polls.iter().zip(&group) {
            watch(poll.registry(), socket, Token(7)).unwrap();
        }
        let _client = std::net::TcpStream::connect(group[0].local_addr().unwrap()).unwrap();
        let mut polls = polls;
        let mut events = mio::Events::with_capacity(4);
        let mut heard = |poll: &mut mio::Poll, wait: u64| {
            let wait = std::time::Duration::from_secs(wait);
            poll.poll(&mut events, Some(wait)).unwrap();
            events
                .iter()
                .map(|e| (e.token(), e.is_readable()))
                .collect::<Vec<_>>()
        };
        for poll in &mut polls {
            assert_eq!(heard(poll, 10), [(Token(7), true)]);
        }
        assert!(group[1].accept().is_ok());
        let taken = group[0].accept().unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::WouldBlock);

        // Unwatched, the first reactor hears of no more connections, though
        // its duplicate stays open.
        unwatch(polls[0].registry(), &group[0]);
        let _another = std::net::TcpStream::connect(group[0].local_addr().unwrap()).unwrap();
        assert_eq!(heard(&mut polls[1], 10), [(Token(7), true)]);
        assert_eq!(heard(&mut polls[0], 0), []);
    }
}

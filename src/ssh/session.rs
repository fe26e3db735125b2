//! One connection's SSH session, driven through sunset's sans-IO
//! `Runner`: key exchange, login, and the one session channel that runs
//! the `sftp` subsystem, whose bytes are what the connection reads and
//! writes (the SFTP codec frames them). The connection's transport calls
//! it as it calls a TLS session (`connection/transport.rs`): read, seal,
//! send what is held, finish.
//!
//! Logins are decided as each attempt arrives, since sunset asks for an
//! answer before it goes on (`events.rs`): a password is a ferry token, a
//! public key one registered on a token, `anonymous` the anonymous grants,
//! all checked by the server's access control, whose throttle counts each
//! wrong token against the client's address; a throttled address, or a
//! connection that fails `events::MAX_AUTH_TRIES` times, is disconnected.
//! Without tokens (an open server) every login is let in, as every other
//! protocol lets everyone. The connection bounds the whole handshake by
//! the login grace time (`connection/deadline.rs`).
//!
//! A shell, a command (legacy `scp -O`, `ssh host ls`) or another
//! subsystem is refused with a message on the channel's stderr and exit
//! status 1 (`events.rs`), so the client says why; port forwarding and
//! agent channels are refused by sunset itself. One session channel is
//! open at a time.
//!
//! Ciphertext comes in through `intake.rs`, at most a share of it per
//! turn of the reactor ([`SshSession::spent`]); the channel's bytes wait
//! for the connection in `ahead.rs`, whose window re-opens as the
//! connection takes them.
//!
//! A session the connection lets rest ([`SshSession::rest`]) gives back
//! the memory of sunset's packet buffers (`rest.rs`) and holds no buffer
//! of its own, until traffic passes again; one whose peer has sent
//! nothing yet rests as soon as its opening is out ([`SshSession::shed`]);
//! the buffers are a mapping of the session's own, unmapped as it ends.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use log::debug;
use mio::net::TcpStream;
use sunset::{ChanData, ChanHandle, Event};

use crate::access::Principal;
use crate::wire::socket::{self, Outcome};

use super::SshTerms;
use super::ahead::Ahead;
use super::events::{Answering, Tries, answer, refuse, ssh_error};
use super::intake::{Intake, READ_MOST};
use super::rest;

/// One connection's SSH session.
pub struct SshSession {
    /// sunset's runner, with its packet buffers (`rest.rs`).
    runner: rest::SessionRunner,
    terms: Arc<SshTerms>,
    peer: IpAddr,
    /// The channel that runs the `sftp` subsystem.
    sftp: Option<ChanHandle>,
    /// Session channels opened and not (yet) running the subsystem.
    opened: Vec<ChanHandle>,
    /// Ciphertext on its way in.
    intake: Intake,
    /// The channel's bytes read ahead of the connection.
    ahead: Ahead,
    /// Who logged in, until the connection takes it.
    login: Option<Arc<Principal>>,
    tries: Tries,
    /// Why the session must end now.
    ended: Option<&'static str>,
    /// The client ended the channel's input (or the whole connection).
    eof: bool,
    /// Ciphertext came since the connection last asked: a peer alive
    /// (its keepalives carry no channel data, and count for the idle
    /// timeout all the same).
    heard: bool,
    /// Traffic passed since the session last rested.
    stirred: bool,
    /// The peer has sent something (its version line at least).
    spoken: bool,
    finishing: bool,
}

impl SshSession {
    /// A session for a connection from `peer`.
    pub fn new(terms: Arc<SshTerms>, peer: IpAddr) -> SshSession {
        SshSession {
            runner: rest::SessionRunner::new(),
            terms,
            peer,
            sftp: None,
            opened: Vec::new(),
            intake: Intake::new(),
            ahead: Ahead::default(),
            login: None,
            tries: Tries::default(),
            ended: None,
            eof: false,
            heard: false,
            stirred: true,
            spoken: false,
            finishing: false,
        }
    }

    /// Whether the session has not yet reached the SFTP subsystem (key
    /// exchange, login, the channel's opening): the connection holds it
    /// to the login grace time (`--ssh-login-grace`).
    pub fn is_handshaking(&self) -> bool {
        self.sftp.is_none() && !self.eof
    }

    /// Bytes the session holds of its own (ciphertext sunset has not
    /// taken, channel bytes the connection has not): [`super::MOST_HELD`]
    /// at most.
    pub fn held(&self) -> usize {
        self.intake.held() + self.ahead.len()
    }

    /// Whether ciphertext came since the last call.
    pub fn take_heard(&mut self) -> bool {
        std::mem::take(&mut self.heard)
    }

    /// Who logged in, once.
    pub fn take_login(&mut self) -> Option<Arc<Principal>> {
        self.login.take()
    }

    /// Whether traffic passed since the session last rested: it may rest.
    pub fn may_rest(&self) -> bool {
        self.stirred
    }

    /// Rests the session: gives back the memory of sunset's packet
    /// buffers if neither holds any of a packet, and drops its own empty
    /// ones. Whether the packet buffers were given back. Either way it
    /// may not rest again until traffic passes (a packet half read waits
    /// for the rest of it).
    pub fn rest(&mut self) -> bool {
        self.stirred = false;
        self.intake.rest();
        self.runner.give_back_idle()
    }

    /// Rests a session whose peer has sent nothing yet, once its version
    /// line and key exchange offer are out (once: from the peer's first
    /// bytes it rests only between requests): whether it rested. Else a
    /// bare connection holds ~68 KB until its client speaks (a storm's
    /// 10,000 opened first, logged in later: 0.7 GB, benches/storm_sftp.sh).
    pub fn shed(&mut self) -> bool {
        !self.spoken && self.stirred && !self.holds_output() && self.rest()
    }

    /// A turn of the reactor begins: the socket may give a share more
    /// (`intake.rs`).
    pub fn begin_turn(&mut self) {
        self.intake.begin_turn();
    }

    /// Whether a read stopped this turn for want of allowance: the
    /// connection must come back for the rest without waiting for an
    /// event.
    pub fn spent(&self) -> bool {
        self.intake.spent()
    }

    /// Whether sealed bytes wait for the socket.
    pub fn holds_output(&self) -> bool {
        self.runner.is_output_pending()
    }

    /// Whether the peer has sent anything not yet handed on.
    pub fn holds_input(&self) -> bool {
        !self.ahead.is_empty() || self.intake.holds()
    }

    /// Reads the channel's bytes into `room` (not empty), reading and
    /// decrypting what the socket has (into `spare`) as needed.
    pub fn read(&mut self, stream: &TcpStream, room: &mut [u8], spare: &mut [u8]) -> Outcome {
        loop {
            if !self.ahead.is_empty() {
                let n = self.ahead.take(room);
                if let Err(outcome) = self.consumed(stream, n) {
                    return outcome;
                }
                return Outcome::Done(n);
            }
            if let Err(outcome) = self.run(stream) {
                return outcome;
            }
            if !self.ahead.is_empty() {
                continue;
            }
            if self.eof {
                return Outcome::Eof;
            }
            let most = READ_MOST.min(spare.len());
            if let Err(outcome) = self.read_socket(stream, &mut spare[..most]) {
                return outcome;
            }
        }
    }

    /// The connection took `n` of the channel's bytes: the window re-opens
    /// for them (sunset sends an adjustment once half of it is owed, sent
    /// here at once).
    fn consumed(&mut self, stream: &TcpStream, n: usize) -> Result<(), Outcome> {
        let Some(channel) = &self.sftp else {
            return Ok(());
        };
        let quiet = !self.runner.is_output_pending();
        if let Err(err) = self.runner.consumed_channel(channel, n) {
            // A channel already ended: no window to re-open.
            debug!(
                "SSH session from {}: window not re-opened: {err}",
                self.peer
            );
        }
        if quiet
            && self.runner.is_output_pending()
            && let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream)
        {
            return Err(outcome);
        }
        Ok(())
    }

    /// Writes as much of `data` (not empty) as the channel's window takes,
    /// and sends what it can: `Done(taken)`, or `WouldBlock` until the
    /// socket drains or the peer opens the window.
    pub fn seal(&mut self, stream: &TcpStream, data: &[u8]) -> Outcome {
        self.stirred = true;
        let mut taken = 0;
        loop {
            if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
                return outcome;
            }
            if taken == data.len() || self.holds_output() {
                break;
            }
            let Some(channel) = &self.sftp else {
                return Outcome::Error(io::Error::other("SSH: no SFTP channel to write to"));
            };
            match self
                .runner
                .write_channel(channel, ChanData::Normal, &data[taken..])
            {
                Ok(0) => {
                    // A key exchange may wait for a step of ours (sunset
                    // takes two to begin one).
                    if let Err(outcome) = self.run(stream) {
                        return outcome;
                    }
                    if self.window_open() {
                        continue;
                    }
                    // The window is shut, or a key exchange runs: what
                    // reopens it comes in from the peer.
                    let mut scratch = [0; 4096];
                    match self.read_socket(stream, &mut scratch) {
                        Ok(()) => {
                            if let Err(outcome) = self.run(stream) {
                                return outcome;
                            }
                        }
                        Err(Outcome::WouldBlock) => break,
                        Err(outcome) => return outcome,
                    }
                }
                Ok(n) => taken += n,
                Err(err) => return Outcome::Error(ssh_error(err)),
            }
        }
        match taken {
            0 => Outcome::WouldBlock,
            n => Outcome::Done(n),
        }
    }

    /// Whether the SFTP channel takes data now.
    fn window_open(&self) -> bool {
        let Some(channel) = &self.sftp else {
            return false;
        };
        matches!(
            self.runner.write_channel_ready(channel, ChanData::Normal),
            Ok(Some(n)) if n > 0
        )
    }

    /// Sends what sunset has sealed, as far as the socket takes it:
    /// `Done(bytes)`, or `WouldBlock` if it took none of those waiting.
    pub fn send_held(&mut self, stream: &TcpStream) -> Outcome {
        let mut total = 0;
        while self.runner.is_output_pending() {
            let out = self.runner.output_buf();
            if out.is_empty() {
                break;
            }
            match socket::write(stream, out, false) {
                Outcome::Done(n) => {
                    self.runner.consume_output(n);
                    total += n;
                }
                Outcome::WouldBlock if total > 0 => break,
                other => return other,
            }
        }
        Outcome::Done(total)
    }

    /// Ends the SFTP channel as a finished command (exit status, EOF,
    /// CLOSE) and sends what is held: `Done` once all is out,
    /// `WouldBlock` until then. The exit status is as `internal-sftp`'s:
    /// 0 where the client ended its input (EOF), 1 where the server ends
    /// a session the client did not (a refused packet).
    pub fn finish(&mut self, stream: &TcpStream) -> Outcome {
        if !self.finishing {
            // Ended once what is queued is out: sunset cannot queue the
            // exit status behind a full buffer or a key exchange.
            match self.send_held(stream) {
                Outcome::Done(_) if self.holds_output() => return Outcome::WouldBlock,
                outcome @ (Outcome::Closed | Outcome::Error(_)) => return outcome,
                _ => {}
            }
            self.finishing = true;
            let status = if self.eof { 0 } else { 1 };
            if let Some(channel) = &self.sftp
                && let Err(err) = self.runner.finish_channel(channel, Some(status))
            {
                debug!(
                    "SSH session from {}: the channel could not be ended: {err}",
                    self.peer
                );
            }
        }
        match self.send_held(stream) {
            Outcome::Done(_) if self.holds_output() => return Outcome::WouldBlock,
            outcome @ (Outcome::Closed | Outcome::Error(_)) => return outcome,
            _ => {}
        }
        // The client answers with its own CLOSE, then closes the
        // connection; the server waits for that close, as OpenSSH's sshd
        // does (bounded by the idle timeout). Closed first, OpenSSH's
        // client would say "closed by remote host", and Go's SSH (rclone)
        // fails its own close of the connection afterwards ("use of
        // closed network connection", which rclone reports as an error).
        let mut scratch = [0; 4096];
        loop {
            match self.read_socket(stream, &mut scratch) {
                Ok(()) => {
                    if self.run(stream).is_err() {
                        break;
                    }
                }
                Err(Outcome::WouldBlock) => return Outcome::WouldBlock,
                Err(_) => break,
            }
        }
        Outcome::Done(0)
    }

    /// Reads ciphertext from the socket (into `spare`) and hands it to
    /// sunset, keeping what it does not take yet: `Ok` once something was
    /// read, else the socket's outcome (`Eof` ends the input).
    fn read_socket(&mut self, stream: &TcpStream, spare: &mut [u8]) -> Result<(), Outcome> {
        if self.intake.holds() && self.runner.is_input_ready() {
            // What sunset could not take before goes first.
            return self.intake.feed_held(&mut self.runner);
        }
        if self.intake.holds() {
            return Err(Outcome::WouldBlock);
        }
        match self.intake.read(stream, spare) {
            Outcome::Done(n) => {
                self.heard = true;
                self.stirred = true;
                self.spoken = true;
                self.intake.feed(&mut self.runner, &spare[..n])
            }
            Outcome::Eof => {
                self.runner.close_input();
                self.eof = true;
                Ok(())
            }
            other => Err(other),
        }
    }

    /// Runs sunset on what it holds: answers its events, takes the
    /// channel's bytes into `ahead`, sends what it seals; until it has
    /// nothing more to do without more input.
    fn run(&mut self, stream: &TcpStream) -> Result<(), Outcome> {
        loop {
            self.take_channel_data()?;
            if let Some(why) = self.ended {
                let _ = self.send_held(stream);
                debug!("SSH session from {} ended: {why}", self.peer);
                return Err(Outcome::Closed);
            }
            if self.intake.holds() && self.runner.is_input_ready() {
                self.intake.feed_held(&mut self.runner)?;
            }
            let mut answering = Answering {
                terms: &self.terms,
                peer: self.peer,
                sftp: &mut self.sftp,
                opened: &mut self.opened,
                login: &mut self.login,
                tries: &mut self.tries,
                ended: &mut self.ended,
                refused: None,
            };
            let progressed = match self.runner.progress() {
                Ok(Event::Serv(event)) => answer(event, &mut answering)?,
                Ok(Event::Progressed) => true,
                Ok(Event::None | Event::Cli(_)) => false,
                Err(err) => return Err(Outcome::Error(ssh_error(err))),
            };
            // A step that only queued output (a key exchange begun: its
            // drain, then its KEXINIT, each an `Event::None`) moved too.
            let progressed = progressed || self.runner.is_output_pending();
            if let Some(num) = answering.refused {
                refuse(&mut self.runner, &mut self.opened, self.peer, num)?;
            }
            let sent = match self.send_held(stream) {
                outcome @ (Outcome::Closed | Outcome::Error(_)) => return Err(outcome),
                Outcome::Done(n) => n,
                _ => 0,
            };
            // Output the socket will not take yet is no progress to loop on.
            let progressed = progressed && (sent > 0 || !self.runner.is_output_pending());
            if !progressed && self.runner.read_channel_ready().is_none() {
                // What the last packet said of the channel (its EOF).
                return self.take_channel_data();
            }
        }
    }

    /// Moves the packet's channel data waiting in sunset into `ahead`
    /// (the SFTP channel's; any other channel's is dropped).
    fn take_channel_data(&mut self) -> Result<(), Outcome> {
        while let Some((num, kind, len)) = self.runner.read_channel_ready() {
            let sftp = self.sftp.as_ref().filter(|c| c.num() == num);
            let (Some(channel), ChanData::Normal) = (sftp, kind) else {
                let other = self.opened.iter().find(|c| c.num() == num).or(sftp);
                let Some(channel) = other else {
                    // Data for a channel this session holds no handle of:
                    // sunset would keep it pending for ever.
                    self.ended = Some("data on a channel already ended");
                    return Ok(());
                };
                self.runner
                    .discard_read_channel(channel)
                    .map_err(|err| Outcome::Error(ssh_error(err)))?;
                continue;
            };
            let runner = &mut self.runner;
            let read = self.ahead.append(len, |room| {
                runner.read_channel_held(channel, ChanData::Normal, room)
            });
            match read {
                Ok(_) if self.ahead.past_window() => {
                    self.ended = Some("the client wrote past the channel's window");
                    return Ok(());
                }
                Ok(_) => {}
                Err(sunset::Error::ChannelEOF) => {
                    // Data after the client's EOF: dropped, or sunset
                    // would hold the packet (and all after it) for ever.
                    self.eof = true;
                    self.runner
                        .discard_read_channel(channel)
                        .map_err(|err| Outcome::Error(ssh_error(err)))?;
                }
                Err(err) => return Err(Outcome::Error(ssh_error(err))),
            }
        }
        if let Some(channel) = &self.sftp
            && self.runner.is_channel_eof(channel)
        {
            self.eof = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::Instant;

    use super::*;
    use crate::access::{Access, AccessConfig};
    use crate::ssh::HostKey;
    use crate::wire::turn_share::TurnShare;

    /// An `SSH_MSG_IGNORE` packet carrying `len` bytes, as a client sends
    /// it before the key exchange (in the clear, without a MAC).
    fn ignore_packet(len: usize) -> Vec<u8> {
        let payload = 1 + 4 + len;
        let padding = 4 + (8 - (5 + payload + 4) % 8) % 8;
        let mut packet = Vec::new();
        packet.extend(u32::try_from(1 + payload + padding).unwrap().to_be_bytes());
        packet.push(u8::try_from(padding).unwrap());
        packet.push(2);
        packet.extend(u32::try_from(len).unwrap().to_be_bytes());
        packet.resize(packet.len() + len + padding, 0);
        packet
    }

    /// Sets the receive buffer of the sockets `listener` accepts.
    fn receive_buffer(listener: &TcpListener, bytes: libc::c_int) {
        use std::os::fd::AsRawFd;
        // SAFETY: setsockopt reads `bytes` for the length given.
        let set = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const bytes).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    }

    /// Bytes waiting on `stream`, up to `most`.
    fn waiting(stream: &TcpStream, most: usize) -> usize {
        let mut buf = vec![0; most];
        match socket::peek(stream, &mut buf) {
            Outcome::Done(n) => n,
            _ => 0,
        }
    }

    #[test]
    fn a_turn_reads_its_share_and_leaves_the_rest_for_the_next() {
        let root = tempfile::tempdir().unwrap();
        let terms = Arc::new(SshTerms {
            host_key: HostKey::load_or_make(None, root.path()).unwrap(),
            access: Arc::new(Access::new(&AccessConfig::default()).unwrap()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Room for a few shares waiting unread (a socket's window grows
        // only as its reader reads).
        receive_buffer(&listener, 1 << 20);
        let mut client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = TcpStream::from_std(server);
        let mut session = SshSession::new(terms, "127.0.0.1".parse().unwrap());
        // A small share, so that what waits past it fits any socket's
        // buffers: the bound is what is tested, not its size.
        let share = 16 * 1024;
        session.intake = Intake::with_share(TurnShare::new(share));
        let hello = b"SSH-2.0-budget_test\r\n";
        client.write_all(hello).unwrap();
        // Written four packets at a time: few segments, so that the
        // receiving socket's buffer holds two shares whatever its size.
        let packets = ignore_packet(4000).repeat(4);
        let total = hello.len() + 16 * packets.len();
        let (mut written, mut taken) = (hello.len(), 0);
        let (mut room, mut spare) = (vec![0; 4096], vec![0; 64 * 1024]);
        let mut spent = 0;
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while taken < total {
            // Packets that carry no channel data keep coming, two shares
            // ahead of the server (and all there before it reads).
            while written < total && written - taken < 2 * share {
                client.write_all(&packets).unwrap();
                written += packets.len();
            }
            while waiting(&server, total) < written - taken {
                assert!(
                    Instant::now() < deadline,
                    "the client's bytes arrive: {} of {} ({taken} taken)",
                    waiting(&server, total),
                    written - taken
                );
                std::thread::yield_now();
            }
            let before = written - taken;
            session.begin_turn();
            let outcome = session.read(&server, &mut room, &mut spare);
            assert!(matches!(outcome, Outcome::WouldBlock), "no channel data");
            let took = before - waiting(&server, total);
            assert!(took <= share, "a turn took {took} bytes, its share {share}");
            assert!(took > 0, "a turn moves on");
            if before > share {
                assert!(session.spent(), "stopped for its share, and says so");
                spent += 1;
            }
            taken += took;
        }
        assert!(
            spent >= total / share - 4,
            "{spent} turns spent their share"
        );
    }
}

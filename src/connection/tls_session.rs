//! One connection's TLS session, driven through rustls's unbuffered API so
//! that a session at rest holds no buffer at all.
//!
//! rustls's buffered `ServerConnection` keeps a 4 KiB receive buffer for
//! the whole life of a connection, busy or idle: more than half of what an
//! idle TLS connection cost. Here rustls owns no buffer; ciphertext is
//! read into the reactor-wide scratch buffer and processed there, records
//! are decrypted straight into the room the connection gives, and sealed
//! records go to the socket at once. Only what cannot be handed on waits,
//! each in a buffer of its own that [`TlsSession::shed`] drops once empty:
//!
//! - `incoming`: a partial record (or handshake flight), until the rest
//!   arrives;
//! - `plaintext`: the part of a decrypted record the connection had no
//!   room for;
//! - `outgoing`: sealed records the socket has not taken, at most
//!   [`SEND_BUFFER_LIMIT`] before the connection is told to wait;
//! - `early`: plaintext handed over before the handshake allows
//!   encryption (FERRY/1's greeting: its server speaks first), sealed as
//!   soon as it does.
//!
//! Every call processes what the session has in hand through
//! `tls_records.rs`'s `process`, which answers each rustls state the same
//! way wherever it comes up. Kernel TLS would take over from here after
//! the handshake (rustls's `dangerous_into_kernel_connection`), with
//! `sendfile` back.
//!
//! An FTPS data connection's session that resumed a sibling login's, not
//! logged in yet, moves nothing until that login is judged
//! (`tls_login.rs`): what comes stays in `incoming`, what is handed over
//! in `early`, and each call looks at the verdict again first.
//!
//! What the session holds between calls, and how records are written into
//! it, is `tls_held.rs`'s; the session's whole loop (handshake, records in
//! and out, close_notify) is here, read as one.

use std::io;
use std::mem;

use mio::net::TcpStream;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};

use super::tls_held::{Decrypted, Held, tls_error};
use super::tls_records::{Resumption, Seal, process};
use crate::tls::SEND_BUFFER_LIMIT;
use crate::tls_login::ResumedFrom;
use crate::wire::socket::{self, Outcome};
use crate::wire::turn_share::TurnShare;

/// The first byte of every TLS handshake record; anything else at the
/// start of a TLS connection is a client speaking plaintext.
const HANDSHAKE_RECORD: u8 = 0x16;
/// The least ciphertext asked of the socket at once: a whole record of the
/// largest size, so a record never takes two reads for want of room.
const MIN_CIPHERTEXT_READ: usize = 16 * 1024 + 256;
/// A TLS session on a connection, and the little it holds between calls.
pub(super) struct TlsSession {
    session: UnbufferedServerConnection,
    held: Held,
    /// Nothing has been read yet: the first byte tells TLS from plaintext.
    first_read: bool,
    /// `close_notify` is queued (or could not be: the handshake never ended).
    closing: bool,
    /// Whether the session must resume one begun before.
    resumption: Resumption,
    /// What it resumed from, where that must be judged (a sibling FTPS
    /// login's session).
    resumed_from: Option<ResumedFrom>,
    /// What the socket may still give this turn: a peer's records that
    /// carry no data (or one byte each) are read a share at a time.
    share: TurnShare,
}

impl TlsSession {
    pub(super) fn new(session: UnbufferedServerConnection) -> TlsSession {
        TlsSession {
            session,
            held: Held::default(),
            first_read: true,
            closing: false,
            resumption: Resumption::Any,
            resumed_from: None,
            share: TurnShare::default(),
        }
    }

    /// The handshake must resume a session begun before (judged as
    /// `from` says); a full one ends the connection
    /// ([`Outcome::NotResumed`]) before any data moves.
    pub(super) fn require_resumption(&mut self, from: ResumedFrom) {
        self.resumption = Resumption::Required;
        self.resumed_from = Some(from);
    }

    /// Whether the session resumed a sibling login's that is not judged
    /// yet: nothing moves, and it is looked at again on a later turn.
    pub(super) fn resumption_waits(&self) -> bool {
        self.resumption == Resumption::Pending
    }

    /// While [`Self::resumption_waits`]: what it resumed from.
    pub(super) fn waits_for(&self) -> Option<&ResumedFrom> {
        self.resumed_from
            .as_ref()
            .filter(|_| self.resumption_waits())
    }

    /// Looks again at what a waiting session resumed from: `None` once
    /// data may move (or it never waited), else what the caller answers
    /// (`NotResumed` once, `WouldBlock` while it still waits).
    pub(super) fn await_verdict(&mut self) -> Option<Outcome> {
        if !self.resumption_waits() {
            return None;
        }
        if let Err(err) = self.process_held(&mut Seal::nothing()) {
            return Some(Outcome::Error(err));
        }
        if self.take_refusal() {
            return Some(Outcome::NotResumed);
        }
        self.resumption_waits().then_some(Outcome::WouldBlock)
    }

    /// Whether the handshake is still going on.
    pub(super) fn is_handshaking(&self) -> bool {
        self.session.is_handshaking()
    }

    /// A turn of the reactor begins: the socket may give a share more
    /// (`wire/turn_share.rs`).
    pub(super) fn begin_turn(&mut self) {
        self.share.begin_turn();
    }

    /// Whether a read stopped this turn for want of allowance.
    pub(super) fn spent(&self) -> bool {
        self.share.spent()
    }

    /// Whether sealed records wait for the socket.
    pub(super) fn holds_output(&self) -> bool {
        self.held.sent < self.held.outgoing.len()
    }

    /// Whether data handed over waits to be sealed (before the handshake
    /// is through, or while its resumption waits for a verdict).
    pub(super) fn holds_early(&self) -> bool {
        !self.held.early.is_empty()
    }

    /// Whether received bytes wait inside the session: a partial record,
    /// or decrypted data the connection has not taken yet.
    pub(super) fn holds_input(&self) -> bool {
        !self.held.incoming.is_empty()
            || self.held.plaintext_taken < self.held.plaintext.len()
            || !self.held.early.is_empty()
    }

    /// Drops the buffers that are empty, so a session at rest holds none.
    pub(super) fn shed(&mut self) {
        let held = &mut self.held;
        for buf in [&mut held.incoming, &mut held.outgoing, &mut held.early] {
            if buf.is_empty() && buf.capacity() > 0 {
                *buf = Vec::new();
            }
        }
        if held.plaintext_taken == held.plaintext.len() && held.plaintext.capacity() > 0 {
            held.plaintext = Vec::new();
            held.plaintext_taken = 0;
        }
    }

    /// Reads application data into `room` (not empty). `spare` is scratch
    /// space for ciphertext, at least 64 KiB + a record.
    pub(super) fn read(
        &mut self,
        stream: &TcpStream,
        room: &mut [u8],
        spare: &mut [u8],
    ) -> Outcome {
        if let Some(n) = self.held.take_plaintext(room) {
            return Outcome::Done(n);
        }
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
            return outcome;
        }
        // The partial record held goes in front of what is read now.
        let mut end = self.held.incoming.len();
        if end > spare.len() {
            return tls_failure("a handshake message larger than the server takes");
        }
        spare[..end].copy_from_slice(&self.held.incoming);
        self.held.incoming.clear();
        let mut start = 0;
        let mut out = Decrypted { room, filled: 0 };
        let outcome = loop {
            let mut nothing = Seal::nothing();
            let processed = process(
                (
                    &mut self.session,
                    &mut self.resumption,
                    self.resumed_from.as_ref(),
                ),
                &mut self.held,
                &mut spare[start..end],
                &mut out,
                &mut nothing,
            );
            match processed {
                Ok(used) => start += used,
                Err(err) => {
                    self.send_alert(stream);
                    break Outcome::Error(err);
                }
            }
            if self.take_refusal() {
                break Outcome::NotResumed;
            }
            if self.resumption_waits() {
                // What came stays held until the sibling is judged.
                break Outcome::WouldBlock;
            }
            // Handshake flights, and what was sealed once the handshake
            // allowed it, go out before anything waits.
            if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
                break outcome;
            }
            if out.filled > 0 {
                break Outcome::Done(out.filled);
            }
            // (A session closed both ways was closed by the peer first.)
            if self.held.peer_closed {
                break Outcome::Eof;
            }
            if start > 0 {
                spare.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            let limit = spare
                .len()
                .min(end + out.room.len().max(MIN_CIPHERTEXT_READ));
            if end == limit {
                break tls_failure("a record larger than TLS allows");
            }
            match self.read_ciphertext(stream, &mut spare[end..limit]) {
                Outcome::Done(n) => end += n,
                // Without close_notify: a truncation attack, or a peer that
                // did not bother. Bodies carry their lengths and checksums,
                // so a cut is seen either way.
                other => break other,
            }
        };
        if !matches!(outcome, Outcome::NotTls) {
            self.held.incoming.extend_from_slice(&spare[start..end]);
        }
        outcome
    }

    /// Seals as much of `data` (not empty) as the session takes and sends
    /// what it can: `Done(taken)`, or `WouldBlock` if it takes nothing
    /// until the socket drains.
    pub(super) fn seal(&mut self, stream: &TcpStream, data: &[u8]) -> Outcome {
        // The verdict first: once given, what waited unsealed goes out
        // with this call (no turn would come for it after the wait).
        if let Some(outcome) = self.await_verdict() {
            return outcome;
        }
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
            return outcome;
        }
        let unsent = self.held.outgoing.len() - self.held.sent;
        let room = SEND_BUFFER_LIMIT.saturating_sub(unsent + self.held.early.len());
        if room == 0 {
            return Outcome::WouldBlock;
        }
        let mut seal = Seal {
            data: &data[..data.len().min(room)],
            taken: 0,
            close: false,
        };
        if let Err(err) = self.process_held(&mut seal) {
            self.send_alert(stream);
            return Outcome::Error(err);
        }
        if self.take_refusal() {
            return Outcome::NotResumed;
        }
        if self.resumption_waits() {
            return Outcome::WouldBlock; // judged as the handshake ended
        }
        if seal.taken == 0 && self.session.is_handshaking() {
            // Sealed once the handshake allows (FERRY/1's greeting).
            self.held.early.extend_from_slice(seal.data);
            seal.taken = seal.data.len();
        }
        match self.send_held(stream) {
            outcome @ (Outcome::Closed | Outcome::Error(_)) => outcome,
            _ if seal.taken == 0 => Outcome::Error(io::Error::other("TLS: the session is closed")),
            _ => Outcome::Done(seal.taken),
        }
    }

    /// Ends the session politely (`close_notify`) and sends what it holds:
    /// `Done` once all is out, `WouldBlock` until then.
    pub(super) fn finish(&mut self, stream: &TcpStream) -> Outcome {
        if !self.closing
            && let Some(outcome) = self.await_verdict()
        {
            // What waits to be sealed waits for the verdict: the end too.
            return outcome;
        }
        if !self.closing {
            self.closing = true;
            let mut seal = Seal {
                data: &[],
                taken: 0,
                close: true,
            };
            // A session that cannot say goodbye (mid-handshake, broken) is
            // simply closed.
            let _ = self.process_held(&mut seal);
        }
        match self.send_held(stream) {
            Outcome::Done(_) if self.holds_output() => Outcome::WouldBlock,
            other => other,
        }
    }

    /// Sends sealed records as far as the socket takes them: `Done(bytes)`,
    /// or `WouldBlock` if it took none of those waiting.
    pub(super) fn send_held(&mut self, stream: &TcpStream) -> Outcome {
        let held = &mut self.held;
        let mut total = 0;
        while held.sent < held.outgoing.len() {
            match socket::write(stream, &held.outgoing[held.sent..], false) {
                Outcome::Done(n) => {
                    held.sent += n;
                    total += n;
                }
                Outcome::WouldBlock if total > 0 => break,
                other => return other,
            }
        }
        if held.sent == held.outgoing.len() {
            held.outgoing.clear();
            held.sent = 0;
        }
        Outcome::Done(total)
    }

    /// Processes the partial record held (in practice: moves the session on
    /// to where it may seal) and seals what `seal` asks for.
    fn process_held(&mut self, seal: &mut Seal<'_>) -> io::Result<()> {
        let mut incoming = mem::take(&mut self.held.incoming);
        let mut no_room = Decrypted {
            room: &mut [],
            filled: 0,
        };
        let processed = process(
            (
                &mut self.session,
                &mut self.resumption,
                self.resumed_from.as_ref(),
            ),
            &mut self.held,
            &mut incoming,
            &mut no_room,
            seal,
        );
        if let Ok(used) = processed {
            incoming.drain(..used);
        }
        self.held.incoming = incoming;
        processed.map(|_| ())
    }

    /// Reads ciphertext from the socket, telling plaintext from TLS by the
    /// first byte of the connection. A peer that ends its side before the
    /// handshake is through never spoke TLS either: its end is no end of
    /// anything sent in TLS (an FTP upload's, which an end completes).
    fn read_ciphertext(&mut self, stream: &TcpStream, buf: &mut [u8]) -> Outcome {
        match self.share.read(stream, buf) {
            Outcome::Eof if self.session.is_handshaking() => Outcome::NotTls,
            Outcome::Done(_) if mem::take(&mut self.first_read) && buf[0] != HANDSHAKE_RECORD => {
                Outcome::NotTls
            }
            other => other,
        }
    }

    /// Whether the handshake just proved not to resume as it had to: true
    /// once, after which the session only says goodbye.
    fn take_refusal(&mut self) -> bool {
        let refused = self.resumption == Resumption::NotResumed;
        if refused {
            self.resumption = Resumption::Told;
        }
        refused
    }

    /// After a TLS error: the alert that explains it, best effort, so the
    /// peer can say why it was refused.
    fn send_alert(&mut self, stream: &TcpStream) {
        for _ in 0..4 {
            let UnbufferedStatus { state, .. } = self.session.process_tls_records(&mut []);
            match state {
                Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                    if self.held.append_encoded(|buf| encode.encode(buf)).is_err() {
                        break;
                    }
                }
                Ok(ConnectionState::TransmitTlsData(transmit)) => transmit.done(),
                _ => break,
            }
        }
        let _ = self.send_held(stream);
    }
}

fn tls_failure(what: &str) -> Outcome {
    Outcome::Error(tls_error(what))
}

// Sessions need a provider: with the TLS features only.
#[cfg(test)]
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
mod tests {
    //! Over a real loopback socket (blocking, so no event loop is needed):
    //! after a handshake and a request answered, a session at rest holds
    //! no buffer, which is what keeps an idle TLS connection small.

    use std::io::{Read, Write};
    use std::net::TcpListener;

    use rustls::StreamOwned;

    use super::*;
    use crate::client::{ClientTls, Trust};
    use crate::tls::{ServerTls, TlsFiles};

    /// A server's and a client's TLS, on a self-signed certificate.
    fn tls_pair() -> (ServerTls, ClientTls) {
        let dir = tempfile::tempdir().unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        std::fs::write(&files.cert, made.cert.pem()).unwrap();
        std::fs::write(&files.key, made.signing_key.serialize_pem()).unwrap();
        let server_tls = ServerTls::load(&files).unwrap();
        let client_tls = ClientTls::new(&Trust::Ca(files.cert.clone())).unwrap();
        (server_tls, client_tls)
    }

    #[test]
    fn a_session_at_rest_holds_no_buffer() {
        let (server_tls, client_tls) = tls_pair();

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let session = client_tls.session(&format!("localhost:{port}")).unwrap();
            let mut tls = StreamOwned::new(session, tcp);
            tls.write_all(b"hello").unwrap();
            let mut answer = [0; 5];
            tls.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"world");
            // Held open until the server has looked at its session.
            let _ = done_rx.recv();
        });

        let (tcp, _) = listener.accept().unwrap();
        let stream = TcpStream::from_std(tcp);
        let mut session = TlsSession::new(server_tls.session().unwrap());
        let mut room = [0; 64];
        let mut spare = vec![0; 128 * 1024];
        let mut got = Vec::new();
        while got.len() < 5 {
            match session.read(&stream, &mut room, &mut spare) {
                Outcome::Done(n) => got.extend_from_slice(&room[..n]),
                other => panic!("read: {other:?}"),
            }
        }
        assert_eq!(got, b"hello");
        assert!(matches!(session.seal(&stream, b"world"), Outcome::Done(5)));
        assert!(!session.holds_output());
        session.shed();
        let held = &session.held;
        let kept = held.incoming.capacity()
            + held.plaintext.capacity()
            + held.outgoing.capacity()
            + held.early.capacity();
        assert_eq!(kept, 0, "bytes of buffer kept at rest");
        done_tx.send(()).unwrap();
        client.join().unwrap();
    }

    /// Bytes waiting on `stream`, up to `most`.
    fn waiting(stream: &TcpStream, most: usize) -> usize {
        let mut buf = vec![0; most];
        match socket::peek(stream, &mut buf) {
            Outcome::Done(n) => n,
            _ => 0,
        }
    }

    /// Sends what the client has sealed.
    fn flush(client: &mut rustls::ClientConnection, tcp: &mut std::net::TcpStream) {
        while client.wants_write() {
            client.write_tls(tcp).unwrap();
        }
    }

    #[test]
    fn a_turn_reads_its_share_of_tiny_records_and_leaves_the_rest() {
        let (server_tls, client_tls) = tls_pair();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = TcpStream::from_std(server);
        let mut client = client_tls
            .session(&format!("localhost:{}", addr.port()))
            .unwrap();
        let mut session = TlsSession::new(server_tls.session().unwrap());
        // A small share, so that what waits past it fits a socket's
        // window whatever the records' overhead in its buffer: the bound
        // is what is tested, not its size.
        let share = 8 * 1024;
        session.share = TurnShare::new(share);
        let (mut room, mut spare) = (vec![0; 4096], vec![0; 128 * 1024]);

        // The handshake, and a first byte of data to end it.
        client.writer().write_all(b"x").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut got = 0;
        while got == 0 {
            assert!(std::time::Instant::now() < deadline, "the handshake ends");
            flush(&mut client, &mut tcp);
            session.begin_turn();
            match session.read(&server, &mut room, &mut spare) {
                Outcome::Done(n) => got += n,
                Outcome::WouldBlock => {}
                other => panic!("handshake: {other:?}"),
            }
            if client.is_handshaking() {
                client.read_tls(&mut tcp).unwrap();
                client.process_new_packets().unwrap();
            }
        }

        // Records of one byte each, two shares ahead of the server.
        let total = 32 * share;
        let (mut written, mut taken, mut spent) = (0, 0, 0);
        while taken < total {
            while written - taken < 2 * share {
                for _ in 0..64 {
                    client.writer().write_all(b"y").unwrap();
                }
                let mut sealed = Vec::new();
                while client.wants_write() {
                    client.write_tls(&mut sealed).unwrap();
                }
                tcp.write_all(&sealed).unwrap();
                written += sealed.len();
            }
            while waiting(&server, 4 * share) < written - taken {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the records arrive: {} of {} ({taken} taken)",
                    waiting(&server, 4 * share),
                    written - taken
                );
                std::thread::yield_now();
            }
            let before = written - taken;
            session.begin_turn();
            loop {
                match session.read(&server, &mut room, &mut spare) {
                    Outcome::Done(n) => got += n,
                    Outcome::WouldBlock => break,
                    other => panic!("records: {other:?}"),
                }
            }
            let took = before - waiting(&server, 4 * share);
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
        assert!(got > total / 32, "the records' bytes came through: {got}");
    }
}

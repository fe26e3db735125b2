//! An FTP data connection's codec: it reads no commands and writes no
//! replies of its own. It serves the one request its control connection
//! hands it (`connection/link.rs`), the file's or the listing's bytes
//! going out as any body does, and reports back what the control
//! connection tells the client: `150` as the transfer begins, `226` once
//! it is whole, `426` if it was cut, the refusal's code if it was refused.

use crate::serve::decoded::{Decoded, Refusal, Relay};
use crate::serve::{ErrorKind, Failure, Reply};

/// A data connection: the control connection it serves, and what it has
/// to report.
#[derive(Debug)]
pub struct Data {
    /// The control connection: `(slab key, id)`.
    control: (usize, u64),
    /// A report not yet taken.
    relay: Option<Relay>,
    /// Its transfer began.
    began: bool,
    /// Its end is reported.
    ended: bool,
}

impl Data {
    /// A data connection for the control connection `control`.
    pub fn new(control: (usize, u64)) -> Data {
        Data {
            control,
            relay: None,
            began: false,
            ended: false,
        }
    }

    /// The control connection it serves.
    pub fn control(&self) -> (usize, u64) {
        self.control
    }

    /// Bytes from the client before a transfer that takes them: no
    /// command is read here.
    pub fn decode(&mut self, data: &[u8]) -> Decoded {
        match data.is_empty() {
            true => Decoded::Incomplete,
            false => Decoded::Refused(Refusal {
                code: 425,
                message: "a data connection takes no commands".to_owned(),
                skip: None,
            }),
        }
    }

    /// Notes what the answer to its request means for the control
    /// connection; writes nothing on the data connection.
    pub fn encode(&mut self, reply: &Reply) {
        let ended = match reply {
            Reply::File { .. } | Reply::Listing { .. } | Reply::GoAhead if !self.began => {
                self.began = true;
                self.relay = Some(Relay::Began);
                return;
            }
            Reply::Failed(failure) => Some(failure.clone()),
            // An upload is whole once it is stored.
            Reply::Stored { .. } => None,
            // Interim, or the transfer's own bytes under way.
            Reply::Nothing | Reply::More(_) => return,
            _ if self.began || self.ended => return,
            // `RETR` of a folder: a folder's description, not a file's bytes.
            Reply::Directory { .. } => Some(Failure::new(
                ErrorKind::NotFound,
                "a folder, not a file: LIST it, or CWD into it",
            )),
            // `REST` past the file's end, then `RETR` (at its end: nothing
            // to send, and `226`).
            Reply::Unsatisfiable { size } => Some(Failure::new(
                ErrorKind::BadRequest,
                format!("REST is past the file's end: it holds {size} bytes"),
            )),
            // Any other answer moves no bytes: refused, so that its control
            // connection is never left waiting for a transfer that will not
            // come.
            other => {
                debug_assert!(false, "a data connection answered {other:?}");
                Some(Failure::new(ErrorKind::BadRequest, "not a transfer"))
            }
        };
        self.ended = true;
        self.relay = Some(Relay::Ended(ended));
    }

    /// Its peer spoke plaintext where `PROT P` asked for TLS, or ended
    /// before its handshake was through: nothing is
    /// transferred (the upload goes unstored, the file unsent), and the
    /// control connection says so (`425`), whatever had begun.
    pub fn spoke_plaintext(&mut self) {
        self.refuse(
            "the data connection did not begin TLS, or ended before its handshake was through \
             (PROT P): nothing was transferred",
        );
    }

    /// Its TLS session did not resume the control connection's, which
    /// the server requires unless `--ftp-tls-reuse-optional`: nothing is
    /// transferred, and the control connection says so (`425`).
    pub fn not_resumed(&mut self) {
        self.refuse(
            "the data connection's TLS did not resume the control connection's session, \
             which this server requires (unless --ftp-tls-reuse-optional): \
             nothing was transferred",
        );
    }

    fn refuse(&mut self, why: &str) {
        if !self.ended {
            self.ended = true;
            self.relay = Some(Relay::Refused(why.into()));
        }
    }

    /// It answered its one request: the connection ends once what it
    /// sends is out.
    pub fn is_closing(&self) -> bool {
        self.began || self.ended
    }

    /// What it has to report, once.
    pub fn take_relay(&mut self) -> Option<Relay> {
        self.relay.take()
    }

    /// Its control connection has let it go (a new `PASV`, or its own
    /// end): nothing is reported of it, so that the control connection
    /// never takes its end for the answer to what it asked next.
    pub fn let_go(&mut self) {
        self.ended = true;
        self.relay = None;
    }

    /// What it reports as it closes: the transfer is whole if it began
    /// and what it sent is all out (`whole`), else cut. Nothing if its end
    /// is reported already.
    pub fn closing_relay(&mut self, whole: bool) -> Option<Relay> {
        if self.ended {
            return None;
        }
        self.ended = true;
        Some(match self.began && whole {
            true => Relay::Ended(None),
            false => Relay::Cut,
        })
    }
}

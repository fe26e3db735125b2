//! Which wire protocol a connection speaks, as the rest of the server knows
//! it: a name for logs, metrics and hooks, and a place in per-protocol
//! tables. A leaf: it imports nothing of the server, so serve, the pool,
//! hooks and metrics can tell protocols apart without depending on the
//! codecs (`connection/codec.rs` maps each protocol to its codec, the
//! other way up). Beside it, what every codec's bytes pass through: the
//! socket adapter (`socket.rs`), a session's share of its socket per turn
//! (`turn_share.rs`), page-aligned buffers (`page_buf.rs`) and a stored
//! file's bytes as they go out (`content.rs`).

pub mod content;
pub mod page_buf;
pub mod socket;
pub mod turn_share;

/// A wire protocol a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// FERRY/1 (PROTOCOL.md).
    Ferry,
    /// HTTP/1.1.
    Http,
    /// The S3 API: HTTP/1.1 on a listener of its own, whose one dialect
    /// is S3's (docs/s3.md).
    S3,
    /// FTP (RFC 959; docs/ftp.md).
    Ftp,
    /// SFTP over SSH (docs/sftp.md): scp and sshfs too.
    Sftp,
}

impl Protocol {
    /// Every protocol, each at its [`Protocol::index`].
    pub const ALL: [Protocol; 5] = [
        Protocol::Ferry,
        Protocol::Http,
        Protocol::S3,
        Protocol::Ftp,
        Protocol::Sftp,
    ];

    /// Its name in metrics labels, the access log, hooks'
    /// `FERRY_PROTOCOL` and systemd's socket names.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ferry => "ferry",
            Protocol::Http => "http",
            Protocol::S3 => "s3",
            Protocol::Ftp => "ftp",
            Protocol::Sftp => "sftp",
        }
    }

    /// Whether its listener speaks TLS from the first byte where the
    /// server serves TLS: all but FTP, whose TLS begins on the plain port
    /// when its client asks (`AUTH TLS`, RFC 4217), and SFTP, which has SSH.
    pub fn tls_from_the_start(self) -> bool {
        !matches!(self, Protocol::Ftp | Protocol::Sftp)
    }

    /// Whether its connections keep urgent data in the stream: FTP's
    /// clients send `ABOR` urgent (Telnet's Synch, RFC 959 §4.1.3; Python's
    /// ftplib sends the whole line so), whose last byte would otherwise be
    /// taken out of the line.
    pub fn urgent_inline(self) -> bool {
        self == Protocol::Ftp
    }

    /// Its place in per-protocol tables (such as connection counters).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The protocol called `name` (as [`Protocol::name`] gives it).
    pub fn named(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_places_agree() {
        for (at, protocol) in Protocol::ALL.into_iter().enumerate() {
            assert_eq!(protocol.index(), at);
            assert_eq!(Protocol::named(protocol.name()), Some(protocol));
        }
        assert_eq!(Protocol::named("gopher"), None);
    }
}

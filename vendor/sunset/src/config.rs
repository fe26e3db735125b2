// ferry's patch: the receive window and largest data packet a channel
// offers. 1000 bytes each (upstream's placeholder) held an upload to about
// 1 KB per round trip. 32 KiB packets are what RFC 4253 guarantees and fit
// the 35000-byte input buffer with their headers and MAC
// (`SSH_MAX_PACKET`). The input holds one packet at a time
// (`Runner::is_input_ready`); an application that reads with
// `Runner::read_channel_held` holds up to a window of data it has not used
// (ferry: 1 MiB per session, half OpenSSH's 2 MiB, which ferry's SFTP
// uploads do not need on a loopback or a LAN; a link of 10 ms carries
// 100 MB/s with it).
pub const DEFAULT_WINDOW: usize = 1024 * 1024;
pub const DEFAULT_MAX_PACKET: usize = 32 * 1024;

/// Maximum SSH packet size, from RFC4253.
///
/// Used to size buffers when using `alloc`
#[allow(unused)]
pub(crate) const SSH_MAX_PACKET: usize = 35000;

// TODO: Perhaps instead of MAX_CHANNELS we could have a type alias
// of either heapless::Vec<> or std::vec::Vec<>
//
// This size is arbitrary and may be increased, though note that some code paths assume
// a linear scan of channels can happen quickly, so may need reworking for performance.
pub const MAX_CHANNELS: usize = 4;

// Enough for longest 23 of "screen.konsole-256color" on my system
// Unsure if this is specified somewhere
pub const MAX_TERM: usize = 32;

pub const DEFAULT_TERM: &str = "xterm";

pub const RSA_DEFAULT_KEYSIZE: usize = 2048;
pub const RSA_MIN_KEYSIZE: usize = 1024;

/// Maximum username for client or server
///
/// 31 is the limit for various Linux APIs like wtmp
/// A larger limit can be set with `larger` crate feature
#[cfg(not(feature = "larger"))]
pub const MAX_USERNAME: usize = 31;

/// Maximum username for client or server
///
/// 31 is the limit for various Linux APIs like wtmp
#[cfg(feature = "larger")]
pub const MAX_USERNAME: usize = 256;

// TODO: server auth timeout/tries

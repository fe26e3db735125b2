//! The size limit on a file (`--max-file-size`, and the largest a file
//! can be without one): one home for the rule, checked before a body is
//! read, as a body of unknown length grows ([`check_size`]), and as far
//! as a body that counts up may be read ahead of that check
//! ([`size_room`]).

use super::{ErrorKind, Failure};
use crate::config::Config;

/// The largest file there can be: a file's size is an `off_t`, signed
/// 64 bits. Nothing larger is ever a size, so no size a client states can
/// be mistaken for storage's mark of a size to come ([`DEFERRED_SIZE`](crate::model::DEFERRED_SIZE)).
pub const LARGEST_FILE: u64 = i64::MAX as u64;

const _: () = assert!(crate::model::DEFERRED_SIZE > LARGEST_FILE);

/// The size limit (`--max-file-size`, and [`LARGEST_FILE`] without one):
/// one home for the rule, checked before a body is read, again as a
/// chunked one or a `STOR`'s grows, and at each APPEND of an upload whose
/// size is to come.
///
/// # Errors
/// `size` is over the limit.
pub fn check_size(config: &Config, size: u64) -> Result<(), Failure> {
    match config.max_file_size {
        Some(max) if size > max => Err(Failure::new(
            ErrorKind::TooLarge,
            format!("file larger than the {max}-byte limit"),
        )),
        _ if size > LARGEST_FILE => Err(Failure::new(
            ErrorKind::TooLarge,
            format!("file larger than the largest a file can be ({LARGEST_FILE} bytes)"),
        )),
        _ => Ok(()),
    }
}

/// How many more bytes a file of `size` bytes may take before
/// [`check_size`] refuses it: how far a body that counts up (FTP's `STOR`)
/// may be read ahead of that check.
pub fn size_room(config: &Config, size: u64) -> u64 {
    let limit = config
        .max_file_size
        .map_or(LARGEST_FILE, |max| max.min(LARGEST_FILE));
    limit.saturating_sub(size)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A configuration whose size limit is `max`.
    pub(in crate::serve) fn limited(max: u64) -> Config {
        Config {
            max_file_size: Some(max),
            ..Config::default()
        }
    }

    #[test]
    fn the_size_limit_is_inclusive() {
        assert!(check_size(&limited(10), 10).is_ok());
        let failure = check_size(&limited(10), 11).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::TooLarge);
        assert!(check_size(&Config::default(), i64::MAX as u64).is_ok());
        // The engine's mark of a size to come is no size.
        let failure = check_size(&Config::default(), u64::MAX).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::TooLarge);
    }

    /// What may be read ahead is exactly what `check_size` lets through.
    #[test]
    fn the_room_to_grow_ends_where_the_limit_refuses() {
        for (config, size) in [
            (limited(10), 0),
            (limited(10), 7),
            (limited(10), 10),
            (limited(10), 12),
            (limited(u64::MAX), 5),
            (Config::default(), LARGEST_FILE - 3),
        ] {
            let room = size_room(&config, size);
            if check_size(&config, size).is_ok() {
                assert!(check_size(&config, size + room).is_ok());
            } else {
                assert_eq!(room, 0);
            }
            assert!(check_size(&config, (size + room).saturating_add(1)).is_err());
        }
    }
}

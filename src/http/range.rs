//! `Range` (RFC 9110 14): what of a file a GET is answered with, read
//! the same way by ferry's own dialect and S3's GetObject.

use super::message::decimal;
use crate::serve::Selection;

/// A single byte range, resolved against a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Send the whole file (no Range header, or one ferry ignores).
    Whole,
    /// Send `len` bytes from `start`.
    Part {
        /// First byte.
        start: u64,
        /// Bytes.
        len: u64,
    },
    /// Nothing of the file satisfies it: 416.
    Unsatisfiable,
}

/// What of a file of `size` bytes a GET (or a HEAD: no body) with
/// `Range` header `range` is answered with: the whole file, a part
/// (`206`), or nothing (`416`).
pub fn selection(range: Option<&str>, size: u64, head: bool) -> Selection {
    match resolve_range(range, size) {
        Range::Whole => Selection::Bytes {
            start: 0,
            len: size,
            part: false,
            body: !head,
        },
        Range::Part { start, len } => Selection::Bytes {
            start,
            len,
            part: true,
            body: true,
        },
        Range::Unsatisfiable => Selection::Unsatisfiable,
    }
}

/// Resolves a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
/// Multiple ranges, other units and malformed specs are ignored (the whole
/// file is sent), as RFC 9110 14.2 allows.
pub fn resolve_range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    // Each side is empty or all digits; anything else is not a range.
    let position = |s: &str| match s.trim() {
        "" => Some(None),
        digits => decimal(digits.as_bytes()).map(Some),
    };
    let (Some(first), Some(last)) = (position(first), position(last)) else {
        return Range::Whole;
    };
    match (first, last) {
        (None, None) => Range::Whole,
        // bytes=-n: the last n bytes; of an empty file, the whole (empty)
        // file, since a non-zero suffix is satisfiable (RFC 9110 14.1.3).
        (None, Some(0)) => Range::Unsatisfiable,
        (None, Some(_)) if size == 0 => Range::Whole,
        (None, Some(n)) => {
            let len = n.min(size);
            Range::Part {
                start: size - len,
                len,
            }
        }
        (Some(start), Some(end)) if end < start => Range::Whole,
        (Some(start), _) if start >= size => Range::Unsatisfiable,
        (Some(start), None) => Range::Part {
            start,
            len: size - start,
        },
        (Some(start), Some(end)) => Range::Part {
            start,
            len: end.min(size - 1) - start + 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(None, 10), Range::Whole);
        assert_eq!(
            resolve_range(Some("bytes=2-4"), 10),
            Range::Part { start: 2, len: 3 }
        );
        assert_eq!(
            resolve_range(Some("bytes=2-"), 10),
            Range::Part { start: 2, len: 8 }
        );
        assert_eq!(
            resolve_range(Some("bytes=-3"), 10),
            Range::Part { start: 7, len: 3 }
        );
        assert_eq!(
            resolve_range(Some("bytes=-30"), 10),
            Range::Part { start: 0, len: 10 }
        );
        assert_eq!(
            resolve_range(Some("bytes=5-100"), 10),
            Range::Part { start: 5, len: 5 }
        );
        assert_eq!(resolve_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(resolve_range(Some("bytes=0-0,5-6"), 10), Range::Whole);
        assert_eq!(resolve_range(Some("bytes=4-2"), 10), Range::Whole);
        assert_eq!(resolve_range(Some("items=0-1"), 10), Range::Whole);
        // Malformed specs are ignored rather than refused (RFC 9110 14.2).
        for malformed in [
            "bytes=-",
            "bytes=-x",
            "bytes=100-x",
            "bytes=+1-2",
            "bytes=1",
        ] {
            assert_eq!(
                resolve_range(Some(malformed), 10),
                Range::Whole,
                "{malformed}"
            );
        }
        assert_eq!(resolve_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
        assert_eq!(
            resolve_range(Some("bytes=-5"), 0),
            Range::Whole,
            "empty file"
        );
        assert_eq!(resolve_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
    }
}

//! Where passive data connections are listened for: the port range
//! (`--ftp-passive-ports LO-HI`) and the order its ports are tried in.
//! Nothing here binds: the reactor does (`server/reactor/links.rs`),
//! trying the ports [`PortCycle::candidates`] names until one is free.

use std::ops::RangeInclusive;

/// Most ports one `PASV` tries before it is refused (`425`): a range
/// that is all taken costs a bounded number of system calls, not a walk
/// of thousands.
pub const MAX_TRIES: usize = 64;

/// Reads `--ftp-passive-ports`' value: `LO-HI`, ports from 1024 up
/// (lower ones are the system's services'), LO at most HI.
///
/// # Errors
/// The value is not such a range, said with an example.
pub fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || {
        format!("expected LO-HI with 1024 <= LO <= HI <= 65535 (e.g. 50000-50100), got {text:?}")
    };
    let (lo, hi) = text.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo < 1024 || lo > hi {
        return Err(bad());
    }
    Ok(lo..=hi)
}

/// A reactor's place in the passive port range: each `PASV` begins where
/// the last one ended, so the ports in use (and those in TIME_WAIT from
/// the last transfers) are not tried again first.
#[derive(Debug)]
pub struct PortCycle {
    range: RangeInclusive<u16>,
    next: u16,
}

impl PortCycle {
    /// A cycle over `range` starting at its `start`th port (reactors
    /// start apart, so they do not race for the same ports).
    pub fn new(range: RangeInclusive<u16>, start: usize) -> PortCycle {
        let len = span(&range);
        let next = *range.start() + (start % len) as u16;
        PortCycle { range, next }
    }

    /// The ports to try for the next listener, in order: at most
    /// [`MAX_TRIES`], each once; the cycle moves past them.
    pub fn candidates(&mut self) -> Vec<u16> {
        let len = span(&self.range);
        let (lo, hi) = (*self.range.start(), *self.range.end());
        let tries = len.min(MAX_TRIES);
        let ports = (0..tries)
            .map(|i| lo + ((usize::from(self.next - lo) + i) % len) as u16)
            .collect::<Vec<_>>();
        let after = ports.last().copied().unwrap_or(lo);
        self.next = if after == hi { lo } else { after + 1 };
        ports
    }
}

/// How many ports `range` holds (at least one: a parsed range is never
/// empty).
fn span(range: &RangeInclusive<u16>) -> usize {
    usize::from(range.end().saturating_sub(*range.start())) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_read_and_a_bad_one_refused() {
        assert_eq!(parse_port_range("50000-50100"), Ok(50000..=50100));
        assert_eq!(parse_port_range("2121-2121"), Ok(2121..=2121));
        for bad in ["", "50000", "50100-50000", "80-90", "1-70000", "a-b"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cycle_goes_on_where_it_ended_and_wraps() {
        let mut cycle = PortCycle::new(50000..=50002, 1);
        assert_eq!(cycle.candidates(), [50001, 50002, 50000]);
        assert_eq!(cycle.candidates(), [50001, 50002, 50000]);
        let mut wide = PortCycle::new(40000..=49999, 0);
        let first = wide.candidates();
        assert_eq!(first.len(), MAX_TRIES);
        assert_eq!(first[0], 40000);
        assert_eq!(wide.candidates()[0], 40000 + MAX_TRIES as u16);
        let mut last = PortCycle::new(65535..=65535, 7);
        assert_eq!(last.candidates(), [65535]);
    }
}

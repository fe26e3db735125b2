//! Threads beneath every layer: crews of one kind started on demand up
//! to a cap and ended when idle, the relay that keeps standard error
//! writable, and the one reader that re-reads a file on SIGHUP. (The I/O
//! pool and its threads are `pool/`.)

pub mod crew;
pub mod reload;
pub mod stderr_relay;

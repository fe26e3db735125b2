//! What stands in for the web interface in a build without it (feature
//! `web`): no style and no script, so the page is its plain table. (A
//! dialect left out of a build is simply not listed, `dialects.rs`: a
//! request it would have taken goes to ferry's files, which answer what
//! they do not understand.)

/// The interface's style, in a build without it.
pub const STYLE_SOURCE: &str = "";
/// The interface's script, in a build without it.
pub const SCRIPT_SOURCE: &str = "";

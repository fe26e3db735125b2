//! What stands in for what the build left out. A dialect (features
//! `webdav`, `tus`, `s3`): its answer is a type no value has, so [`Answering`]'s
//! variant and its arms stay as they are and the dialect list simply
//! lacks the dialect (`dialect.rs`). A request such a dialect would
//! have taken goes to ferry's files, which answer what they do not
//! understand. The web interface (feature `web`): no style and no
//! script, so the page is its plain table.
//!
//! [`Answering`]: super::dialect::Answering

use super::dialect::{Answer, Message};
use crate::serve::Reply;

/// An answer of a dialect not built: never made.
#[derive(Debug)]
pub enum Absent {}

impl Answer for Absent {
    fn encode(&self, _reply: &Reply, _message: Message, _out: &mut Vec<u8>) {
        match *self {}
    }
}

/// WebDAV's answer, in a build without it.
pub type WebdavAnswer = Absent;
/// tus's answer, in a build without it.
pub type TusAnswer = Absent;
/// S3's answer, in a build without it.
pub type S3Answer = Absent;

/// The interface's style, in a build without it.
pub const STYLE_SOURCE: &str = "";
/// The interface's script, in a build without it.
pub const SCRIPT_SOURCE: &str = "";

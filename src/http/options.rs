//! The one `OPTIONS` answer of a listener, whichever dialects it serves:
//! no dialect owns `OPTIONS`, each adds its own fields
//! ([`Dialect::offers`]: tus's `Tus-*`, WebDAV's `DAV`) and methods
//! ([`Dialect::methods`]) to one `204` with one `Allow` (docs/webdav.md
//! (b)). Sans-IO.

use super::dialect::{Answer, Answering, Decision, Dialect, Message, served_on};
use super::message::{Head, Refused, Resume};
use super::origin::Site;
use super::request::path_of;
use super::response::{Framing, Head as ResponseHead};
use crate::serve::{Operation, Reply, Request};
use crate::wire::Protocol;

/// The dialect that takes every `OPTIONS` (first in the list of the
/// listener it names, whose dialects it asks).
#[derive(Debug)]
pub struct Options(pub Protocol);

/// What the answer depends on: whose dialects to ask, and of what target.
#[derive(Debug, Clone, Copy)]
pub struct OptionsAnswer {
    listener: Protocol,
    target: Target,
}

/// What an `OPTIONS` asks about, as far as the dialects' offers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A folder (a path ending in `/`) or `*`.
    Folder,
    /// Anything else: a file, or a folder named without its `/`.
    Other,
}

impl Target {
    fn of(target: &str) -> Target {
        match target == "*" || path_of(target).ends_with('/') {
            true => Target::Folder,
            false => Target::Other,
        }
    }
}

impl Dialect for Options {
    fn claims(&self, head: &Head<'_>) -> bool {
        head.method == "OPTIONS"
    }

    fn decode(&self, head: &Head<'_>, _: &Resume, _: Site<'_>) -> Result<Decision, Refused> {
        let answer = OptionsAnswer {
            listener: self.0,
            target: Target::of(head.target),
        };
        let request = Request::from(Operation::Options);
        Ok(Decision::Serve(request, Answering::Options(answer)))
    }
}

impl Answer for OptionsAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let Reply::Offers { max_file_size } = reply else {
            debug_assert!(false, "OPTIONS leads to {reply:?}");
            let framing = Framing {
                persistence: message.persistence,
                head_only: message.head,
                allow: self.allow(),
            };
            return self.error(500, "unexpected answer", framing, out);
        };
        let dialects = served_on(self.listener);
        let mut allow: Vec<&str> = Vec::new();
        for dialect in dialects {
            for method in dialect.methods(self.target).split(", ") {
                if !method.is_empty() && !allow.contains(&method) {
                    allow.push(method);
                }
            }
        }
        let mut head = ResponseHead::new(out, 204).header("Allow", allow.join(", "));
        for dialect in dialects {
            head = dialect.offers(*max_file_size, head);
        }
        head.finish(0, message.persistence);
    }

    fn allow(&self) -> &'static str {
        "OPTIONS"
    }
}

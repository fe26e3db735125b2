//! The dialects each listener serves, in the order they are asked (the
//! one file that names them all: a new dialect is its file or folder and
//! a line here), and the one `OPTIONS` answer of a listener, which asks
//! them all: no dialect owns `OPTIONS`, each adds its own fields
//! ([`Dialect::offers`]: tus's `Tus-*`, WebDAV's `DAV`) and methods
//! ([`Dialect::methods`]) to one `204` with one `Allow` (docs/webdav.md
//! (b)). Sans-IO.

use super::dialect::{Answer, Asked, Client, Decision, Dialect, Message};
use super::fields::path_of;
use super::message::{Head, Refused, Resume};
use super::origin::Site;
use super::response::{Framing, Head as ResponseHead};
use crate::serve::ops;
use crate::serve::{Operation, Reply, Request};
use crate::wire::Protocol;

/// Declares [`Answering`] from one list of the dialects' answers: the
/// enum, [`Answering::get`] and a `From` for each, which is what
/// [`Listed`] needs of a dialect.
macro_rules! answering {
    ($($(#[$built:meta])? $variant:ident($answer:ty), $what:literal;)*) => {
        /// Each dialect's answer, held inline by the connection (a box
        /// would add a pointer and an allocation to every exchange): a
        /// dialect whose answer holds more keeps it behind a box of its
        /// own.
        #[derive(Debug)]
        pub enum Answering {
            $(
                #[doc = $what]
                $(#[$built])?
                $variant($answer),
            )*
        }

        impl Answering {
            /// The answer, whichever dialect's.
            pub fn get(&self) -> &dyn Answer {
                match self {
                    $(
                        $(#[$built])?
                        Answering::$variant(answer) => answer,
                    )*
                }
            }
        }

        $(
            $(#[$built])?
            impl From<$answer> for Answering {
                fn from(answer: $answer) -> Answering {
                    Answering::$variant(answer)
                }
            }
        )*
    };
}

answering! {
    Files(super::files::FilesAnswer), "ferry's files, listings and archives.";
    #[cfg(feature = "tus")]
    Tus(super::tus::TusAnswer), "tus's uploads.";
    #[cfg(feature = "webdav")]
    Webdav(super::webdav::WebdavAnswer), "WebDAV's properties and folders.";
    Options(OptionsAnswer), "The one `OPTIONS` answer, every dialect's.";
    Health(super::health::HealthAnswer), "The health check.";
    #[cfg(feature = "shares")]
    Shares(super::share_answer::SharesAnswer), "Share links: made, listed, revoked, used.";
    #[cfg(feature = "s3")]
    S3(super::s3::S3Answer), "The S3 API's buckets and objects.";
}

/// A dialect as its listener asks it, its answer made an [`Answering`]
/// (each dialect knows only its own answer, `dialect.rs`).
pub trait Listed: Sync {
    /// [`Dialect::claims_from`].
    fn claims_from(&self, head: &Head<'_>, client: Client) -> bool;
    /// [`Dialect::client_after`].
    fn client_after(&self, head: &Head<'_>, client: Client) -> Client;
    /// [`Dialect::body_in_hand`].
    fn body_in_hand(&self, head: &Head<'_>, site: Site<'_>) -> Option<u64>;
    /// [`Dialect::methods`].
    fn methods(&self, target: Asked) -> &'static str;
    /// [`Dialect::offers`].
    fn offers<'a>(&self, max_file_size: Option<u64>, head: ResponseHead<'a>) -> ResponseHead<'a>;
    /// [`Dialect::refusals`].
    fn refusals(&self) -> Option<Answering>;
    /// [`Dialect::decode`].
    ///
    /// # Errors
    /// As [`Dialect::decode`].
    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<Answering>, Refused>;
}

impl<D: Dialect> Listed for D
where
    D::Answer: Into<Answering>,
{
    fn claims_from(&self, head: &Head<'_>, client: Client) -> bool {
        Dialect::claims_from(self, head, client)
    }

    fn client_after(&self, head: &Head<'_>, client: Client) -> Client {
        Dialect::client_after(self, head, client)
    }

    fn body_in_hand(&self, head: &Head<'_>, site: Site<'_>) -> Option<u64> {
        Dialect::body_in_hand(self, head, site)
    }

    fn methods(&self, target: Asked) -> &'static str {
        Dialect::methods(self, target)
    }

    fn offers<'a>(&self, max_file_size: Option<u64>, head: ResponseHead<'a>) -> ResponseHead<'a> {
        Dialect::offers(self, max_file_size, head)
    }

    fn refusals(&self) -> Option<Answering> {
        Dialect::refusals(self).map(Into::into)
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<Answering>, Refused> {
        Dialect::decode(self, head, resume, site).map(|decision| decision.map(Into::into))
    }
}

/// The dialects of the HTTP listener (`--http`), asked in order; the last
/// claims every request. Adding a dialect: its file or folder, a line
/// here (or in the list of the listener that serves it, in
/// [`served_on`]), and its answer in [`Answering`].
pub static DIALECTS: &[&dyn Listed] = &[
    &Options(Protocol::Http),
    &super::health::Health,
    #[cfg(feature = "shares")]
    &super::shares::Shares,
    #[cfg(feature = "tus")]
    &super::tus::Tus,
    #[cfg(feature = "webdav")]
    &super::webdav::Webdav,
    &super::files::Files,
];

/// The dialects of the S3 listener (`--s3`); none in a build without S3,
/// whose listener [`Config::unbuilt`](crate::config::Config::unbuilt)
/// refuses.
#[cfg(feature = "s3")]
const S3: &[&dyn Listed] = &[&super::s3::S3];
#[cfg(not(feature = "s3"))]
const S3: &[&dyn Listed] = &[];

/// The dialects a listener of `protocol` serves: a protocol with a port of
/// its own (S3's, say) lists its dialect here.
pub fn served_on(protocol: Protocol) -> &'static [&'static dyn Listed] {
    match protocol {
        Protocol::Http => DIALECTS,
        Protocol::S3 => S3,
        // FERRY/1, FTP and SFTP have no HTTP dialects; their listeners
        // never ask.
        Protocol::Ferry | Protocol::Ftp | Protocol::Sftp => &[],
    }
}

/// How `listener` answers what the message layer refused
/// ([`Dialect::refusals`]): the first of its dialects that says.
pub fn refusals(listener: Protocol) -> Option<Answering> {
    served_on(listener)
        .iter()
        .find_map(|dialect| dialect.refusals())
}

/// The dialect that takes `head` from `client` on a listener of
/// `listener`: the first of its dialects that claims it, else ferry's
/// files (whose answers say what is not understood).
pub fn of(listener: Protocol, head: &Head<'_>, client: Client) -> &'static dyn Listed {
    served_on(listener)
        .iter()
        .copied()
        .find(|dialect| dialect.claims_from(head, client))
        .unwrap_or(&super::files::Files)
}

/// The dialect that takes every `OPTIONS` (first in the list of the
/// listener it names, whose dialects it asks).
#[derive(Debug)]
pub struct Options(pub Protocol);

/// What the answer depends on: whose dialects to ask, and of what target.
#[derive(Debug, Clone, Copy)]
pub struct OptionsAnswer {
    listener: Protocol,
    target: Asked,
}

/// What an `OPTIONS` of `target` asks about.
fn asked(target: &str) -> Asked {
    match target == "*" || path_of(target).ends_with('/') {
        true => Asked::Folder,
        false => Asked::Other,
    }
}

impl Dialect for Options {
    type Answer = OptionsAnswer;

    fn claims(&self, head: &Head<'_>) -> bool {
        head.method == "OPTIONS"
    }

    fn decode(
        &self,
        head: &Head<'_>,
        _: &Resume,
        _: Site<'_>,
    ) -> Result<Decision<OptionsAnswer>, Refused> {
        let answer = OptionsAnswer {
            listener: self.0,
            target: asked(head.target),
        };
        let request = Request::from(Operation::Options(ops::Options));
        Ok(Decision::Serve(request, answer))
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

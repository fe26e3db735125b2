//! The operations about the conversation rather than the files: AUTH,
//! QUIT, OPTIONS and ECHO, each with its facts. AUTH changes who the
//! connection is, so `serve` answers it before anyone is identified
//! (`access.rs`'s `auth`); the others are answered at once, on the
//! reactor.

use crate::access::{Secret, Who};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Body, Ctx, Next, Outcome, Reply};

/// Authenticate with a token for the rest of the connection.
#[derive(Debug)]
pub struct Auth {
    /// The token.
    pub token: Secret,
}

impl Operate for Auth {
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Nothing)
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        unreachable!("AUTH is answered by serve before admission")
    }
}

/// Say goodbye and close.
#[derive(Debug)]
pub struct Quit;

impl Operate for Quit {
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Nothing)
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        Outcome::new(Reply::Done, Next::Close)
    }
}

/// What the server offers, nothing done (HTTP's `OPTIONS`: the dialect
/// that took it says what it can).
#[derive(Debug)]
pub struct Options;

impl Operate for Options {
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Nothing)
    }

    fn serve(self, ctx: &Ctx<'_>, _who: Who) -> Outcome {
        Outcome::answer(Reply::Offers {
            max_file_size: ctx.config.max_file_size,
        })
    }
}

/// Send back the `size` body bytes that follow.
#[derive(Debug)]
pub struct Echo {
    /// Body length.
    pub size: u64,
}

impl Operate for Echo {
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Token)
    }

    fn body(&self) -> Body {
        Body::fixed(self.size)
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        let next = match self.size {
            0 => Next::Request,
            left => Next::Echo { left },
        };
        Outcome::new(Reply::Echo { size: self.size }, next)
    }
}

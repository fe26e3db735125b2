//! What a request's words are held as ([`Words`]): checked names when
//! the server parsed them ([`Parsed`]), borrowed plain text when a client
//! writes them ([`Written`]), and their text for the encoder. One
//! [`super::Request`] enum serves both directions through it.

use std::fmt;

use crate::access::Secret;
use crate::name::{Name, Prefix};

/// What a request's words are held as, and their text for the encoder.
pub trait Words: fmt::Debug + Clone + Copy + PartialEq + Eq {
    /// A file's name.
    type Name: fmt::Debug + Clone + PartialEq + Eq;
    /// A listing's prefix or folder.
    type Prefix: fmt::Debug + Clone + PartialEq + Eq;
    /// An upload session's id.
    type Id: fmt::Debug + Clone + PartialEq + Eq;
    /// An `AUTH` token.
    type Token: fmt::Debug + Clone + PartialEq + Eq;
    /// The name as text (before percent-encoding).
    fn name(name: &Self::Name) -> &str;
    /// `LIST`'s prefix as text.
    fn prefix(prefix: &Self::Prefix) -> &str;
    /// `DIR`'s folder as text, without its trailing `/`.
    fn folder(folder: &Self::Prefix) -> &str;
    /// The session id as text.
    fn id(id: &Self::Id) -> &str;
    /// The token.
    fn token(token: &Self::Token) -> &Secret;
}

/// Words as the server parsed them: checked names and prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed;

impl Words for Parsed {
    type Name = Name;
    type Prefix = Prefix;
    type Id = String;
    type Token = Secret;
    fn name(name: &Name) -> &str {
        name.as_str()
    }
    fn prefix(prefix: &Prefix) -> &str {
        prefix.as_str()
    }
    fn folder(folder: &Prefix) -> &str {
        folder.as_str().strip_suffix('/').unwrap_or_default()
    }
    fn id(id: &String) -> &str {
        id
    }
    fn token(token: &Secret) -> &Secret {
        token
    }
}

/// Words as a client writes them: borrowed, unchecked text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> Words for Written<'a> {
    type Name = &'a str;
    type Prefix = &'a str;
    type Id = &'a str;
    type Token = &'a Secret;
    fn name<'b>(name: &'b &'a str) -> &'b str {
        name
    }
    fn prefix<'b>(prefix: &'b &'a str) -> &'b str {
        prefix
    }
    fn folder<'b>(folder: &'b &'a str) -> &'b str {
        folder
    }
    fn id<'b>(id: &'b &'a str) -> &'b str {
        id
    }
    fn token<'b>(token: &'b &'a Secret) -> &'b Secret {
        token
    }
}

//! Share links made, listed and revoked (docs/shares.md): every rule
//! once, whichever dialect asked. A link never gives more than its
//! creator may: a download link needs the creator's `read` on what it
//! shares, an upload link their `write` (judged before it is made, as
//! [`MakeLink`]'s needs, and again at every use, `via_link.rs`). Links
//! belong to the token that made it: only it lists or revokes them.
//! Without access control everyone is the one creator; a client without
//! a token on a server with tokens makes none (nobody could revoke it).
//!
//! Every change is one check-and-change under the link table's lock
//! (`storage/link_table.rs`): a token's cap on live links holds across
//! nodes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use log::info;
use sha2::{Digest, Sha256};

use crate::access::tokens::random;
use crate::access::{Secret, Who};
use crate::formats::hex::{of_bytes as hex, to_bytes as unhex};
use crate::model::{LinkMode, ShareLink};
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, ErrorKind, Failure, Next, Outcome, Reply, refuse};
use crate::storage::{LinkEdit, StorageError};

/// What a link shares.
#[derive(Debug)]
pub enum LinkTarget {
    /// One file.
    File(Name),
    /// A folder (the root: empty), ending in `/`.
    Folder(Prefix),
}

impl LinkTarget {
    /// Its name as a link keeps it (a folder's ending in `/`).
    pub fn as_str(&self) -> &str {
        match self {
            LinkTarget::File(name) => name.as_str(),
            LinkTarget::Folder(prefix) => prefix.as_str(),
        }
    }
}

/// Make a share link (`POST /.ferry-shares`).
#[derive(Debug)]
pub struct MakeLink {
    /// What it shares.
    pub target: LinkTarget,
    /// What it allows (an upload link shares a folder).
    pub mode: LinkMode,
    /// Seconds until it stops; `None`: the server's longest
    /// (`--share-max-expiry`).
    pub expires_in: Option<u64>,
    /// The password people must give, if any.
    pub password: Option<Secret>,
    /// How many whole-file downloads it gives, if limited.
    pub max_downloads: Option<u64>,
    /// Where the link's address begins, as the request knows it: told
    /// back with it ([`LinkBase::resolve`]).
    pub base: LinkBase,
}

/// The caller's own links (`GET /.ferry-shares`).
#[derive(Debug)]
pub struct ListLinks {
    /// As [`MakeLink::base`].
    pub base: LinkBase,
}

/// Where a link's address begins (`scheme://host[:port]`), as the
/// request that asks knows it. `--public-url` comes first whichever way
/// it was asked: the one place that decides, [`LinkBase::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkBase {
    /// As an HTTP request named the server (its `Host`), if it did; a
    /// bare path otherwise.
    Asked(Option<String>),
    /// The server's first HTTP listener: a FERRY/1 client names no host
    /// of the HTTP side.
    Listener,
}

impl LinkBase {
    /// The beginning of links' addresses: `--public-url`, else as asked,
    /// else the first HTTP listener's address (`https` where it has TLS;
    /// a listener on every address is named by its loopback one, which
    /// only this machine reaches: such a server wants `--public-url`).
    ///
    /// # Errors
    /// 403 on a server without an HTTP listener: links are served over
    /// HTTP, so no address of one would work.
    pub fn resolve(&self, config: &crate::config::Config) -> Result<Option<String>, Failure> {
        let http = config
            .listeners
            .iter()
            .find(|l| l.protocol == crate::wire::Protocol::Http);
        let Some(http) = http else {
            return Err(Failure::new(
                ErrorKind::Forbidden,
                "share links are served over HTTP, and this server has no HTTP listener (ferry serve --http ADDR)",
            ));
        };
        if let Some(url) = &config.shares.public_url {
            return Ok(Some(url.clone()));
        }
        Ok(match self {
            LinkBase::Asked(base) => base.clone(),
            LinkBase::Listener => {
                let scheme = if http.tls { "https" } else { "http" };
                let mut addr = http.addr;
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr {
                        std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                Some(format!("{scheme}://{addr}"))
            }
        })
    }
}

/// Revoke one of the caller's links (`DELETE /.ferry-shares/<id>`).
pub struct RevokeLink {
    /// The link's id.
    pub id: String,
}

/// Shows six characters of the id, as every log does ([`logged`]): a
/// link without a password is its id.
impl std::fmt::Debug for RevokeLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokeLink")
            .field("id", &logged(&self.id))
            .finish()
    }
}

impl Operate for MakeLink {
    fn aim(&self) -> Aim<'_> {
        let path = self.target.as_str();
        let needs = match self.mode {
            LinkMode::Read => Needs::Read(path),
            LinkMode::Upload => Needs::Write(path),
        };
        Aim::at(path, needs)
    }

    /// On the pool: what it shares looked up, then the link kept (where
    /// its address can be told: [`LinkBase::resolve`]).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| match self.make(ctx, &who) {
            Ok((link, base)) => {
                info!(
                    "#{} SHARE {} {:?} as {} until {}",
                    ctx.client,
                    link.mode.as_str(),
                    link.path,
                    logged(&link.id),
                    link.expires
                );
                Outcome::answer(Reply::Link {
                    link: Box::new(link),
                    base,
                })
            }
            Err(failure) => refuse(ctx, "SHARE", self.target.as_str(), failure, Next::Request),
        })
    }
}

impl MakeLink {
    /// The link made and kept, and where its address begins; or why not.
    fn make(&self, ctx: &Ctx<'_>, who: &Who) -> Result<(ShareLink, Option<String>), Failure> {
        let (creator, creator_key) = creator_of(who)?;
        let base = self.base.resolve(ctx.config)?;
        let terms = &ctx.config.shares;
        match (&self.target, self.mode) {
            (LinkTarget::File(_), LinkMode::Upload) => {
                return Err(Failure::new(
                    ErrorKind::BadRequest,
                    "an upload link shares a folder",
                ));
            }
            (LinkTarget::File(name), LinkMode::Read) => {
                ctx.store.look_up(name)?;
            }
            (LinkTarget::Folder(prefix), _) => {
                if let Some(name) = super::folders::folder_name(prefix) {
                    ctx.store.find_folder(&name)?;
                }
            }
        }
        let lasts = self.expires_in.unwrap_or(terms.max_expiry);
        if lasts == 0 || lasts > terms.max_expiry {
            return Err(Failure::new(
                ErrorKind::BadRequest,
                format!(
                    "a link lasts 1 to {} seconds on this server (--share-max-expiry)",
                    terms.max_expiry
                ),
            ));
        }
        if self.max_downloads == Some(0) {
            return Err(Failure::new(
                ErrorKind::BadRequest,
                "a download limit is 1 or more: leave it out for a link without one",
            ));
        }
        let password = self
            .password
            .as_ref()
            .map(|p| salted(p.expose()))
            .transpose()?;
        let id = URL_SAFE_NO_PAD.encode(random::<16>().map_err(StorageError::from)?);
        let links = ctx.store.links();
        let cap = terms.max_links;
        let link = links.change(|kept, now| {
            let live = kept
                .iter()
                .filter(|l| l.creator == creator && l.is_live(now))
                .count();
            if kept.iter().any(|l| l.id == id) {
                // 128 random bits met again: the system's randomness is
                // broken, and no link may be replaced.
                return Err(Failure::new(ErrorKind::Internal, "a link id came twice"));
            }
            if live >= cap {
                return Err(Failure::new(
                    ErrorKind::Forbidden,
                    format!("{live} live links already, the most a token may have (--share-max-links): revoke one"),
                ));
            }
            let link = ShareLink {
                id: id.clone(),
                creator: creator.clone(),
                creator_key: creator_key.clone(),
                path: self.target.as_str().to_owned(),
                mode: self.mode,
                created: now,
                expires: now.saturating_add(i64::try_from(lasts).unwrap_or(i64::MAX)),
                password: password.clone(),
                max_downloads: self.max_downloads,
                downloads: 0,
            };
            // Links that expired a day ago go with this change (a used-up
            // one stays to its expiry: its holders are told 410, its
            // creator still sees it).
            let stale = kept
                .iter()
                .filter(|l| l.expires < now - DAY)
                .map(|l| l.id.clone());
            let edit = LinkEdit {
                write: vec![link.clone()],
                remove: stale.collect(),
            };
            Ok((link, edit))
        })?;
        Ok((link, base))
    }
}

/// How long a link that stopped is still told apart from one that never
/// was (410, not 404), in seconds.
const DAY: i64 = 24 * 60 * 60;

impl Operate for ListLinks {
    fn aim(&self) -> Aim<'_> {
        Aim::at("", Needs::Token)
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| {
            let listed = creator_of(&who).and_then(|(creator, _)| {
                let mut own = ctx.store.links().all()?;
                own.retain(|l| l.creator == creator);
                own.sort_by_key(|l| (l.created, l.id.clone()));
                Ok(own)
            });
            match listed {
                // A listing without addresses still lists: a server
                // without HTTP has links made before its listener went.
                Ok(links) => Outcome::answer(Reply::Links {
                    links,
                    base: self.base.resolve(ctx.config).ok().flatten(),
                }),
                Err(failure) => refuse(ctx, "SHARES", "", failure, Next::Request),
            }
        })
    }
}

impl Operate for RevokeLink {
    fn aim(&self) -> Aim<'_> {
        Aim::at(logged(&self.id), Needs::Token)
    }

    /// Another token's link is not there, as far as the caller is told.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| {
            let revoked = creator_of(&who).and_then(|(creator, _)| {
                ctx.store.links().change(|kept, _| {
                    match kept.iter().any(|l| l.id == self.id && l.creator == creator) {
                        true => Ok((
                            (),
                            LinkEdit {
                                write: Vec::new(),
                                remove: vec![self.id.clone()],
                            },
                        )),
                        false => Err(Failure::new(ErrorKind::NotFound, "no such link")),
                    }
                })
            });
            match revoked {
                Ok(()) => {
                    info!("#{} UNSHARE {}", ctx.client, logged(&self.id));
                    Outcome::answer(Reply::Done)
                }
                Err(failure) => refuse(ctx, "UNSHARE", logged(&self.id), failure, Next::Request),
            }
        })
    }
}

/// A link's id as logs show it: its first six characters, enough to
/// tell links apart in a log, never enough to use one (a link without a
/// password is its id).
pub fn logged(id: &str) -> &str {
    id.char_indices().nth(6).map_or(id, |(end, _)| &id[..end])
}

/// The name links of `who` are kept under, and its token's key
/// ([`ShareLink::creator_key`]); both empty without access control.
///
/// # Errors
/// 401 for a client without a token on a server with tokens.
fn creator_of(who: &Who) -> Result<(String, String), Failure> {
    match who {
        Who::Everyone => Ok((String::new(), String::new())),
        Who::Holder(principal) => Ok((principal.entry.name.clone(), creator_key(principal))),
        Who::Anonymous(_) => Err(Failure::new(
            ErrorKind::Unauthorized,
            "share links are made with a token",
        )),
    }
}

/// The first 16 hex digits of `principal`'s token digest.
pub fn creator_key(principal: &crate::access::Principal) -> String {
    hex(&principal.entry.digest[..8])
}

/// `<salt hex>:<SHA-256 of salt and password, hex>`.
fn salted(password: &str) -> Result<String, Failure> {
    let salt = random::<16>().map_err(StorageError::from)?;
    Ok(format!("{}:{}", hex(&salt), hex(&digest(&salt, password))))
}

/// Whether `password` is the one `kept` ([`salted`]) was made of.
pub fn password_matches(kept: &str, password: &str) -> bool {
    let Some((salt, want)) = kept.split_once(':') else {
        return false;
    };
    let Some(salt) = unhex(salt) else {
        return false;
    };
    // Compared whole, not byte by byte as they differ: a guesser learns
    // nothing from the time an answer takes.
    let got = hex(&digest(&salt, password));
    got.len() == want.len()
        && got
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn digest(salt: &[u8], password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_address_begins_with_the_public_url_else_as_asked_else_the_listener() {
        use crate::config::{Config, Listen};
        use crate::wire::Protocol;
        let mut config = Config::default();
        config.listeners.clear();
        let asked = LinkBase::Asked(Some("http://files.lan".into()));
        assert_eq!(
            LinkBase::Listener.resolve(&config).unwrap_err().kind,
            ErrorKind::Forbidden
        );
        config.listeners.push(Listen {
            addr: "0.0.0.0:8443".parse().unwrap(),
            protocol: Protocol::Http,
            tls: true,
        });
        let base = |base: &LinkBase, config: &Config| base.resolve(config).unwrap();
        assert_eq!(
            base(&LinkBase::Listener, &config).as_deref(),
            Some("https://127.0.0.1:8443")
        );
        assert_eq!(base(&asked, &config).as_deref(), Some("http://files.lan"));
        assert_eq!(base(&LinkBase::Asked(None), &config), None);
        config.shares.public_url = Some("https://x.example/f".into());
        for asked in [LinkBase::Listener, asked, LinkBase::Asked(None)] {
            assert_eq!(
                base(&asked, &config).as_deref(),
                Some("https://x.example/f")
            );
        }
    }

    #[test]
    fn a_password_matches_only_itself() {
        let kept = salted("open sesame").unwrap();
        assert!(password_matches(&kept, "open sesame"));
        assert!(!password_matches(&kept, "open sesame "));
        assert!(!password_matches(&kept, ""));
        assert_ne!(kept, salted("open sesame").unwrap(), "salted anew");
        assert!(!password_matches("zz:00", "x"));
    }
}

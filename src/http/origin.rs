//! The web origin: what a browser may do through the HTTP listener, so that
//! neither a file a user uploaded nor a page on another site can act with a
//! viewer's rights (docs/security.md, "The web origin"). Sans-IO.
//!
//! Three rules live here, once for every HTTP request:
//!
//! - **Host** (DNS rebinding): with access control off anyone who reaches
//!   the listener may do anything, so a page elsewhere must not reach it
//!   through a name it controls that it points at 127.0.0.1. Only hosts a
//!   rebinding cannot forge are answered: IP literals, `localhost` (and
//!   `*.localhost`, which browsers keep on loopback themselves) and the
//!   names the operator gave with `--allow-host`.
//! - **Origin** (cross-site requests): a request that changes something
//!   (PUT, DELETE, MOVE) made by a browser on behalf of another site's page
//!   is refused, whatever the auth mode, so a foreign page cannot drive a
//!   browser that is signed in. Browsers say where a request comes from in
//!   `Sec-Fetch-Site` (trusted when present) or `Origin`; tools such as
//!   curl send neither and are not affected. The origins the operator
//!   named with `--cors-origin` are let through (`cors.rs`).
//! - **User content** never runs as the interface: every file goes out with
//!   `X-Content-Type-Options: nosniff` (set on every answer, in
//!   [`super::response::Head::finish`]) and a sandboxing
//!   `Content-Security-Policy`, and types that can carry script are
//!   attachments, unless the operator opted in with `--inline-content`.

use super::response::{Head, MediaType};

pub use crate::config::WebConfig;

/// What one HTTP request is checked against: the operator's settings and
/// whether access control is on.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// The operator's settings.
    pub web: &'a WebConfig,
    /// Access control is on: every request is checked against a token, so
    /// the Host it names does not matter.
    pub access_on: bool,
    /// The server speaks TLS (`--tls-cert`): the addresses it gives out
    /// (a share link's) are `https:`.
    pub tls: bool,
}

/// The facts of a request head this module decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The `Host` value (HTTP/1.0 may have none).
    pub host: Option<String>,
    /// The `Origin` value.
    pub origin: Option<String>,
    /// The `Sec-Fetch-Site` value, lower-case.
    pub fetch_site: Option<String>,
}

impl Provenance {
    /// Takes field `name` if it says where the request comes from
    /// (`Host`, `Origin`, `Sec-Fetch-Site`); false if it does not.
    pub fn read(&mut self, name: &str, value: &[u8]) -> bool {
        let text = || std::str::from_utf8(value).map(str::trim);
        let is = |field: &str| name.eq_ignore_ascii_case(field);
        if is("host") {
            self.host = text().ok().map(str::to_owned);
        } else if is("origin") {
            self.origin = Some(text().unwrap_or("null").to_owned());
        } else if is("sec-fetch-site") {
            self.fetch_site = text().ok().map(str::to_ascii_lowercase);
        } else {
            return false;
        }
        true
    }
}

/// The `Content-Security-Policy` of every user file: no script, no plugin,
/// no access to the origin (a sandbox without `allow-same-origin` is an
/// opaque origin of its own), nothing loaded but images and media of this
/// server, styles inline so a text or image view still looks right.
pub const USER_CONTENT_POLICY: &str = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/// Types shown in place: their renderers run no script with the origin's
/// rights. Everything else (HTML, SVG, XML, JavaScript, CSS, unknown) is
/// an attachment. PDF is shown in place (the page previews it in a frame,
/// docs/security.md): the browsers' own viewers run a PDF's scripts, if
/// at all, in a plugin's sandbox with no access to the page or its
/// origin, and the sandboxing policy still comes with it.
const PASSIVE: [&str; 18] = [
    "text/plain; charset=utf-8",
    "text/csv; charset=utf-8",
    "application/json",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "application/pdf",
    "audio/wav",
    "audio/mpeg",
    "audio/ogg",
    "audio/flac",
    "audio/mp4",
    "video/webm",
    "video/mp4",
    "video/ogg",
    "video/quicktime",
];

/// How a user file is presented to a browser.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Presentation {
    /// Shown in place, in the sandbox.
    #[default]
    Sandboxed,
    /// Downloaded (`Content-Disposition: attachment`), in the sandbox should
    /// a browser show it anyway.
    Attachment,
    /// Shown in place as its type says, no sandbox (`--inline-content`).
    Inline,
}

impl Presentation {
    /// How a file of type `media` is presented under `web`.
    pub fn of(media: MediaType, web: &WebConfig) -> Presentation {
        if web.inline_content {
            Presentation::Inline
        } else if PASSIVE.contains(&media.as_str()) {
            Presentation::Sandboxed
        } else {
            Presentation::Attachment
        }
    }

    /// Adds to a user file's answer the headers that present it so.
    pub fn headers(self, head: Head<'_>) -> Head<'_> {
        match self {
            Presentation::Inline => head,
            Presentation::Sandboxed => head.header("Content-Security-Policy", USER_CONTENT_POLICY),
            Presentation::Attachment => head
                .header("Content-Security-Policy", USER_CONTENT_POLICY)
                .header("Content-Disposition", "attachment"),
        }
    }
}

/// Why a request is refused before it is served: the status and reason.
pub type Refused = (u16, String);

/// Checks a request's provenance against the site's rules; `writes`: the
/// request changes files (its dialect says which of its methods do).
///
/// # Errors
/// 403 for a Host a rebinding could have chosen, or a state-changing
/// request from another site's page.
pub fn check(writes: bool, seen: &Provenance, site: Site<'_>) -> Result<(), Refused> {
    // A request without a Host (HTTP/1.0) comes from no browser.
    if let (false, Some(host)) = (site.access_on, seen.host.as_deref())
        && !host_allowed(host, &site.web.allow_hosts)
    {
        return Err((
            403,
            format!(
                "Host {host:?} is not served without access control (a defence against DNS rebinding): use an IP address or localhost, or start the server with --allow-host"
            ),
        ));
    }
    if writes && !same_origin(seen) && !cors_allowed(seen, site.web) {
        return Err((
            403,
            "cross-site request refused: a page on another site may not change files here".into(),
        ));
    }
    Ok(())
}

/// Whether a browser made the request for a page of this server (or no
/// browser made it).
fn same_origin(seen: &Provenance) -> bool {
    // Sent by every current browser; a user's own navigation is "none".
    if let Some(site) = &seen.fetch_site {
        return matches!(site.as_str(), "same-origin" | "none");
    }
    match (&seen.origin, &seen.host) {
        (None, _) => true,
        // `Origin: null` (a sandboxed or file: page) is nobody's own.
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// Whether the request comes from the page of an origin the operator lets
/// use the listener across sites (`--cors-origin`).
fn cors_allowed(seen: &Provenance, web: &WebConfig) -> bool {
    seen.origin
        .as_deref()
        .is_some_and(|origin| super::cors::allows(origin, web))
}

/// Whether a `Host` value (with or without a port) names something a DNS
/// rebinding cannot forge, or a name the operator allowed.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    if name.is_empty() {
        return false;
    }
    // Compared without a lowercased copy: every request asks.
    let below_localhost = name
        .len()
        .checked_sub(".localhost".len())
        .and_then(|at| name.get(at..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"));
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || below_localhost
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// The name of a `Host` value: `[::1]:80` gives `::1`, `a.b:80` gives `a.b`
/// (a trailing dot, which names the same host, is dropped).
pub(crate) fn host_name(host: &str) -> &str {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(inside, _)| inside),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// Whether a `Destination`'s `authority` (of a URL with `scheme`) names
/// the server the request's `Host` names: the same host and port, where
/// a port left out is the scheme's default (`localhost` is
/// `localhost:80` over `http`, `localhost:443` over `https`, RFC 3986
/// 6.2.3).
pub(super) fn same_server(scheme: &str, authority: &str, host: &str) -> bool {
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let bare = |named: &str| {
        let named = named.trim();
        match named.len().checked_sub(default.len()) {
            Some(at) if named.is_char_boundary(at) && named[at..] == *default => {
                named[..at].to_ascii_lowercase()
            }
            _ => named.to_ascii_lowercase(),
        }
    };
    bare(authority) == bare(host)
}

/// Makes a name given with `--allow-host` into what requests are compared
/// with: lower-case, no port, no trailing dot.
///
/// # Errors
/// Empty, or with characters no host name has.
pub fn parse_allowed_host(text: &str) -> Result<String, String> {
    let name = host_name(text.trim());
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    match valid {
        true => Ok(name.to_ascii_lowercase()),
        false => Err(format!("{text:?} is not a host name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(host: &str, origin: Option<&str>, fetch_site: Option<&str>) -> Provenance {
        Provenance {
            host: Some(host.into()),
            origin: origin.map(Into::into),
            fetch_site: fetch_site.map(Into::into),
        }
    }

    #[test]
    fn only_hosts_a_rebinding_cannot_forge_are_served_without_access_control() {
        let web = WebConfig {
            allow_hosts: vec!["files.example".into()],
            ..WebConfig::default()
        };
        let open = Site {
            web: &web,
            access_on: false,
            tls: false,
        };
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "app.localhost:9",
            "App.LocalHost.",
            "[::1]:80",
            "[FE80::AB]:80",
            "10.1.2.3",
            "files.example:8080",
            "Files.Example.",
        ] {
            assert!(
                check(false, &seen(host, None, None), open).is_ok(),
                "{host}"
            );
        }
        for host in ["attacker.example", "localhost.attacker.example", "", "[::1"] {
            let (status, _) = check(false, &seen(host, None, None), open).unwrap_err();
            assert_eq!(status, 403, "{host}");
        }
        assert!(
            check(false, &Provenance::default(), open).is_ok(),
            "HTTP/1.0"
        );
        let guarded = Site {
            access_on: true,
            ..open
        };
        assert!(check(false, &seen("attacker.example", None, None), guarded).is_ok());
    }

    #[test]
    fn a_foreign_page_may_read_but_not_change() {
        let web = WebConfig::default();
        let site = Site {
            web: &web,
            access_on: true,
            tls: false,
        };
        let host = "127.0.0.1:8080";
        let ok = |method, origin, fetch| check(method, &seen(host, origin, fetch), site).is_ok();
        assert!(ok(true, None, None), "curl");
        assert!(ok(true, Some("http://127.0.0.1:8080"), None));
        assert!(ok(
            true,
            Some("https://127.0.0.1:8080"),
            Some("same-origin")
        ));
        assert!(ok(false, Some("http://evil.example"), Some("cross-site")));
        assert!(!ok(true, Some("http://evil.example"), None));
        assert!(!ok(true, Some("null"), None));
        assert!(!ok(true, Some("http://127.0.0.1:9999"), None));
        assert!(!ok(true, None, Some("cross-site")));
        assert!(!ok(true, Some("http://127.0.0.1:8080"), Some("same-site")));
    }

    #[test]
    fn only_passive_types_are_shown_in_place() {
        let web = WebConfig::default();
        for name in [
            "a.txt", "a.csv", "a.json", "a.png", "a.JPG", "a.webp", "a.pdf", "a.wav", "a.webm",
            "a.mp4", "a.ogg",
        ] {
            assert_eq!(
                Presentation::of(MediaType::of(name), &web),
                Presentation::Sandboxed,
                "{name}"
            );
        }
        for name in ["a.html", "a.svg", "a.xml", "a.js", "a.css", "a", "a.wasm"] {
            assert_eq!(
                Presentation::of(MediaType::of(name), &web),
                Presentation::Attachment,
                "{name}"
            );
        }
        let site = WebConfig {
            inline_content: true,
            ..WebConfig::default()
        };
        assert_eq!(
            Presentation::of(MediaType::of("a.html"), &site),
            Presentation::Inline
        );
    }

    #[test]
    fn allowed_hosts_are_names() {
        assert_eq!(
            parse_allowed_host("Files.Example:8080").unwrap(),
            "files.example"
        );
        assert_eq!(parse_allowed_host("[::1]").unwrap(), "::1");
        assert!(parse_allowed_host("a b").is_err());
        assert!(parse_allowed_host("").is_err());
    }

    #[test]
    fn a_default_port_is_the_same_server_as_none() {
        assert!(same_server("http", "localhost", "localhost"));
        assert!(same_server("http", "localhost:80", "localhost"));
        assert!(same_server("http", "LocalHost", "localhost:80"));
        assert!(same_server("https", "h:443", "h"));
        assert!(same_server("https", "h", "h:443"));
        assert!(same_server("http", "[::1]:80", "[::1]"));
        assert!(!same_server("http", "h:443", "h"));
        assert!(!same_server("https", "h:80", "h"));
        assert!(!same_server("http", "h:8080", "h"));
        assert!(!same_server("http", "other", "h"));
        assert!(!same_server("ftp", "h", "h"));
    }
}

//! S3 for tests: a server with an S3 listener (and an HTTP one) whose
//! tokens have S3 keys, and a small SigV4 signer written from AWS's
//! description, apart from the server's own code, so that the two can
//! disagree. The real clients (boto3, awscli) are in tests/clients/s3.rs.

use std::net::SocketAddr;

use ferry::access::tokens::{Entry, S3Key, TokensFile, digest, new_token};
use ferry::access::{AccessConfig, Grant, Grants};
use ferry::wire::Protocol;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::TestServer;
use super::http::{Answer, exchange};

/// A server with S3 keys.
pub struct S3Server {
    pub server: TestServer,
    /// The S3 listener.
    pub s3: SocketAddr,
    /// One signer per holder, in order.
    pub signers: Vec<Signer>,
    /// Their ferry tokens, in order.
    pub tokens: Vec<String>,
    /// Holds the tokens file.
    pub dir: TempDir,
}

impl S3Server {
    /// A server whose holders each have a token and an S3 key with their
    /// grants, and `anonymous` grants for unsigned requests.
    pub fn start(holders: &[(&str, &[&str])], anonymous: &[&str]) -> S3Server {
        S3Server::start_with(holders, anonymous, |_| {})
    }

    /// `python3 tests/clients/<script> <scheme>://<S3 listener> <key id>
    /// <secret>` for the first holder, with no AWS configuration from
    /// the machine; the caller adds the script's own arguments and runs it.
    pub fn boto3(&self, script: &str, scheme: &str) -> std::process::Command {
        let signer = &self.signers[0];
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients")
            .join(script);
        let mut command = std::process::Command::new("python3");
        command
            .arg(path)
            .arg(format!("{scheme}://{}", self.s3))
            .arg(&signer.id)
            .arg(signer.secret())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
        command
    }

    /// `rclone <args>` against remote `x:` (this S3 listener, provider
    /// Other, the first holder's key), with no config file.
    pub fn rclone(&self, args: &[&str]) -> std::process::Output {
        let signer = &self.signers[0];
        std::process::Command::new("rclone")
            .args(args)
            // rclone 1.60 cannot load a CA bundle into its transport (and
            // needs none over plain HTTP).
            .env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG", "/nonexistent")
            .env("RCLONE_CONFIG_X_TYPE", "s3")
            .env("RCLONE_CONFIG_X_PROVIDER", "Other")
            .env("RCLONE_CONFIG_X_ENDPOINT", format!("http://{}", self.s3))
            .env("RCLONE_CONFIG_X_FORCE_PATH_STYLE", "true")
            .env("RCLONE_CONFIG_X_ACCESS_KEY_ID", &signer.id)
            .env("RCLONE_CONFIG_X_SECRET_ACCESS_KEY", signer.secret())
            .output()
            .expect("rclone runs (checked with `have` first)")
    }

    /// [`S3Server::start`] after `adjust` has changed the config.
    pub fn start_with(
        holders: &[(&str, &[&str])],
        anonymous: &[&str],
        adjust: impl FnOnce(&mut ferry::config::Config),
    ) -> S3Server {
        S3Server::launch(holders, anonymous, false, adjust)
    }

    /// [`S3Server::start`], its listeners over TLS (the certificate,
    /// self-signed for localhost and 127.0.0.1, in [`S3Server::ca`]).
    pub fn start_tls(holders: &[(&str, &[&str])]) -> S3Server {
        S3Server::launch(holders, &[], true, |_| {})
    }

    /// The certificate of a server started with TLS.
    pub fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("server-cert.pem")
    }

    fn launch(
        holders: &[(&str, &[&str])],
        anonymous: &[&str],
        tls: bool,
        adjust: impl FnOnce(&mut ferry::config::Config),
    ) -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let tls = tls.then(|| super::tls::self_signed(dir.path(), "server"));
        let mut file = TokensFile::default();
        let (mut signers, mut tokens) = (Vec::new(), Vec::new());
        for (name, grants) in holders {
            let token = new_token().unwrap();
            let key = S3Key::new().unwrap();
            file.entries.push(Entry {
                name: (*name).to_owned(),
                digest: digest(&token),
                s3: Some(key.clone()),
                quota: None,
                ssh_keys: Vec::new(),
                grants: Grants::new(grants.iter().map(|g| Grant::parse(g).unwrap()).collect()),
            });
            signers.push(Signer::new(&key.id, &key.secret));
            tokens.push(token);
        }
        let path = dir.path().join("tokens");
        std::fs::write(&path, file.render()).unwrap();
        let server = TestServer::start_with(|c| {
            c.listen(Protocol::Http, "127.0.0.1:0".parse().unwrap());
            c.listen(Protocol::S3, "127.0.0.1:0".parse().unwrap());
            c.access = AccessConfig {
                tokens: Some(path),
                anonymous: anonymous.iter().map(|g| Grant::parse(g).unwrap()).collect(),
                no_auth: false,
            };
            adjust(c);
            if let Some(files) = tls {
                c.serve_tls(files);
            }
        });
        let s3 = server_s3_addr(&server);
        S3Server {
            server,
            s3,
            signers,
            tokens,
            dir,
        }
    }

    /// Stops the server and starts another on the same root with the
    /// same keys (the anonymous grants are not kept).
    pub fn restart(&mut self) {
        self.restart_after(|_| {});
    }

    /// [`S3Server::restart`], with `meanwhile` done to the root between
    /// the two servers.
    pub fn restart_after(&mut self, meanwhile: impl FnOnce(&std::path::Path)) {
        self.server.handle().shutdown();
        self.server.wait_for_exit().unwrap();
        meanwhile(self.server.root.path());
        let root = std::mem::replace(&mut self.server.root, tempfile::tempdir().unwrap());
        let tokens = self.dir.path().join("tokens");
        self.server = TestServer::start_in(root, |c| {
            c.listen(Protocol::Http, "127.0.0.1:0".parse().unwrap());
            c.listen(Protocol::S3, "127.0.0.1:0".parse().unwrap());
            c.access = AccessConfig {
                tokens: Some(tokens),
                anonymous: Vec::new(),
                no_auth: false,
            };
        });
        self.s3 = server_s3_addr(&self.server);
    }

    /// An unsigned request.
    pub fn anonymous(&self, method: &str, target: &str, body: &[u8]) -> Answer {
        exchange(self.s3, method, target, "Host: localhost\r\n", body)
    }
}

/// Grants to read, write and delete everywhere.
pub const ALL: &[&str] = &["read:/", "write:/", "delete:/"];

/// A server whose one holder, `owner`, may do all ([`ALL`]), with a
/// bucket `bkt` it made (a signed CreateBucket): where most S3 tests
/// begin.
pub fn owner() -> S3Server {
    let s = S3Server::start(&[("owner", ALL)], &[]);
    let made = s.signers[0].simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(made.status, 200, "{}", made.head);
    s
}

/// The S3 listener's address (the test server records FERRY/1's and
/// HTTP's; the S3 port is read back from the bound listeners).
fn server_s3_addr(server: &TestServer) -> SocketAddr {
    server.s3.expect("an S3 listener")
}

/// How a signed request states its body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// Its SHA-256, signed.
    Signed,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// This value, whatever the body.
    Stated(&'a str),
}

/// How an `aws-chunked` body is signed.
#[derive(Debug, Clone, Copy)]
pub enum Streaming {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: each chunk.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: each chunk and the trailer.
    SignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: none.
    UnsignedTrailer,
}

/// A signed request's head: its target, its header lines, and what its
/// body's signatures chain from.
struct SignedHead {
    target: String,
    lines: String,
    signature: String,
    /// `<date>\n<scope>\n`.
    stamp: String,
    key: Vec<u8>,
}

/// Signs requests with one S3 key.
#[derive(Debug, Clone)]
pub struct Signer {
    pub id: String,
    secret: String,
    /// Seconds added to the clock (a skewed client).
    pub skew: i64,
    /// The service its scope names (`s3`; another to test refusals).
    pub service: &'static str,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every byte but the unreserved ones as %XX (and `/` too, for a query).
pub fn encode(text: &str, slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b'/' if !slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Signer {
    /// The secret, for the real clients.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn new(id: &str, secret: &str) -> Signer {
        Signer {
            id: id.to_owned(),
            secret: secret.to_owned(),
            skew: 0,
            service: "s3",
        }
    }

    /// Sends `method path?query` (the path as sent: encoded; the query as
    /// decoded pairs), signed, with `extra` header lines and `body`.
    pub fn send(
        &self,
        addr: SocketAddr,
        method: &str,
        (path, query): (&str, &[(&str, &str)]),
        extra: &[(&str, &str)],
        body: &[u8],
        payload: Payload<'_>,
    ) -> Answer {
        let (target, lines) = self.signed(method, (path, query), extra, body, payload);
        exchange(addr, method, &target, &lines, body)
    }

    /// The target and signed header lines of `method path?query` (as
    /// [`Signer::send`] sends them), for a test that sends the request
    /// itself.
    pub fn signed(
        &self,
        method: &str,
        (path, query): (&str, &[(&str, &str)]),
        extra: &[(&str, &str)],
        body: &[u8],
        payload: Payload<'_>,
    ) -> (String, String) {
        let hash = match payload {
            Payload::Signed => hex(&Sha256::digest(body)),
            Payload::Unsigned => "UNSIGNED-PAYLOAD".to_owned(),
            Payload::Stated(text) => text.to_owned(),
        };
        let signed = self.sign(method, (path, query), extra, &hash);
        (signed.target, signed.lines)
    }

    /// The date (`YYYYMMDDTHHMMSSZ`) of a request made now, `skew` apart.
    fn date(&self) -> String {
        let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(self.skew);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    }

    /// The signing key of a day.
    fn key(&self, day: &str) -> Vec<u8> {
        let mut key = hmac(format!("AWS4{}", self.secret).as_bytes(), day);
        for part in ["us-east-1", self.service, "aws4_request"] {
            key = hmac(&key, part);
        }
        key
    }

    /// The canonical query of decoded pairs.
    fn query(query: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(n, v)| (encode(n, true), encode(v, true)))
            .collect();
        pairs.sort();
        let query: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        query.join("&")
    }

    /// Signs a request whose payload hash is `hash`.
    fn sign(
        &self,
        method: &str,
        (path, query): (&str, &[(&str, &str)]),
        extra: &[(&str, &str)],
        hash: &str,
    ) -> SignedHead {
        let date = self.date();
        let query = Signer::query(query);
        let mut headers = vec![
            ("x-amz-content-sha256".to_owned(), hash.to_owned()),
            ("x-amz-date".to_owned(), date.clone()),
        ];
        // `localhost` unless the caller names a host (virtual-host style).
        if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            headers.push(("host".to_owned(), "localhost".to_owned()));
        }
        headers.extend(
            extra
                .iter()
                .map(|(n, v)| (n.to_lowercase(), (*v).to_owned())),
        );
        headers.sort();
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        let canonical = format!(
            "{method}\n{path}\n{query}\n{}\n{}\n{hash}",
            headers
                .iter()
                .map(|(n, v)| format!("{n}:{v}\n"))
                .collect::<String>(),
            names.join(";")
        );
        let scope = format!("{}/us-east-1/{}/aws4_request", &date[..8], self.service);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = self.key(&date[..8]);
        let signature = hex(&hmac(&key, &to_sign));
        let mut lines = format!(
            "Authorization: AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}\r\n",
            self.id,
            names.join(";")
        );
        for (name, value) in &headers {
            lines.push_str(&format!("{name}: {value}\r\n"));
        }
        let target = match query.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{query}"),
        };
        SignedHead {
            target,
            lines,
            signature,
            stamp: format!("{date}\n{scope}\n"),
            key,
        }
    }

    /// A PUT of `data` to `path` as an `aws-chunked` body of `chunk`-byte
    /// chunks, signed as `mode` says, with `checksum` (field, base64) in
    /// its trailer; `alter` changes the body (not its framing's lengths)
    /// after it is signed.
    pub fn put_streaming(
        &self,
        addr: SocketAddr,
        path: &str,
        (data, chunk): (&[u8], usize),
        mode: Streaming,
        checksum: Option<(&str, &str)>,
        alter: impl FnOnce(&mut Vec<u8>),
    ) -> Answer {
        let (hash, signed) = match mode {
            Streaming::Signed => ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", true),
            Streaming::SignedTrailer => ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", true),
            Streaming::UnsignedTrailer => ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", false),
        };
        let decoded = data.len().to_string();
        let mut extra = vec![
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
        ];
        if let Some((field, _)) = checksum {
            extra.push(("x-amz-trailer", field));
        }
        let head = self.sign("PUT", (path, &[]), &extra, hash);
        let mut previous = head.signature.clone();
        let mut link = |kind: &str, tail: String| {
            let text = format!("AWS4-HMAC-SHA256-{kind}\n{}{previous}\n{tail}", head.stamp);
            previous = hex(&hmac(&head.key, &text));
            previous.clone()
        };
        let empty = hex(&Sha256::digest(b""));
        let mut body = Vec::new();
        for piece in data.chunks(chunk).chain([&b""[..]]) {
            let signature = match signed {
                true => {
                    let tail = format!("{empty}\n{}", hex(&Sha256::digest(piece)));
                    format!(";chunk-signature={}", link("PAYLOAD", tail))
                }
                false => String::new(),
            };
            body.extend_from_slice(format!("{:x}{signature}\r\n", piece.len()).as_bytes());
            if !piece.is_empty() {
                body.extend_from_slice(piece);
                body.extend_from_slice(b"\r\n");
            }
        }
        if let Some((field, value)) = checksum {
            let line = format!("{field}:{value}");
            body.extend_from_slice(format!("{line}\r\n").as_bytes());
            if signed {
                let tail = hex(&Sha256::digest(format!("{line}\n").as_bytes()));
                let signature = link("TRAILER", tail);
                body.extend_from_slice(
                    format!("x-amz-trailer-signature:{signature}\r\n").as_bytes(),
                );
            }
        }
        body.extend_from_slice(b"\r\n");
        alter(&mut body);
        exchange(addr, "PUT", &head.target, &head.lines, &body)
    }

    /// A presigned URL's target for `method path`, made `ago` seconds in
    /// the past, valid for `expires` seconds.
    pub fn presign(&self, method: &str, path: &str, ago: i64, expires: u64) -> String {
        let date = Signer {
            skew: self.skew - ago,
            ..self.clone()
        }
        .date();
        let scope = format!("{}/us-east-1/{}/aws4_request", &date[..8], self.service);
        let credential = format!("{}/{scope}", self.id);
        let expires = expires.to_string();
        let params = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", credential.as_str()),
            ("X-Amz-Date", date.as_str()),
            ("X-Amz-Expires", expires.as_str()),
            ("X-Amz-SignedHeaders", "host"),
        ];
        let query = Signer::query(&params);
        let canonical =
            format!("{method}\n{path}\n{query}\nhost:localhost\n\nhost\nUNSIGNED-PAYLOAD");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex(&hmac(&self.key(&date[..8]), &to_sign));
        format!("{path}?{query}&X-Amz-Signature={signature}")
    }

    /// A signed request without query or extra fields, its body signed.
    pub fn simple(&self, addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
        self.send(addr, method, (path, &[]), &[], body, Payload::Signed)
    }
}

/// The text of every element `tag` in `xml`, in order.
pub fn texts(xml: &[u8], tag: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let (mut found, mut inside) = (Vec::new(), false);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == tag.as_bytes() => {
                inside = true;
                found.push(String::new());
            }
            Event::Empty(e) if e.name().as_ref() == tag.as_bytes() => found.push(String::new()),
            Event::Text(t) if inside => {
                let text = t.decode().unwrap().into_owned();
                found
                    .last_mut()
                    .unwrap()
                    .push_str(&quick_xml::escape::unescape(&text).unwrap());
            }
            Event::GeneralRef(r) if inside => {
                let name = String::from_utf8(r.to_vec()).unwrap();
                let text = quick_xml::escape::unescape(&format!("&{name};"))
                    .unwrap()
                    .into_owned();
                found.last_mut().unwrap().push_str(&text);
            }
            Event::End(e) if e.name().as_ref() == tag.as_bytes() => inside = false,
            Event::Eof => return found,
            _ => {}
        }
        buf.clear();
    }
}

/// The S3 error code of an answer.
pub fn code(answer: &Answer) -> String {
    texts(&answer.body, "Code")
        .into_iter()
        .next()
        .unwrap_or_default()
}

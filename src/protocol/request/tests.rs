//! The request grammar's tests: every verb parsed, the refusals and how the
//! connection goes on after each, the exact bytes the encoder writes, and
//! properties over random input (no panic, fragmentation, round trips).
//!
//! Why it is long: the grammar's cases are tables, a line or a request
//! each, and every verb and refusal is one of them.

use super::*;
use crate::access::Secret;

fn parse(s: &str) -> Result<Option<(Request, usize)>, ProtocolError> {
    parse_request(s.as_bytes())
}

fn n(s: &str) -> Name {
    Name::decode(s.as_bytes()).unwrap()
}

/// PUT with a CRC, an mtime, a trailing CRC (`-`), without either.
#[test]
fn parses_every_form_of_put() {
    parses_as(vec![
        (
            "PUT a/b.csv 12 0000abcd\n",
            Request::Put {
                name: n("a/b.csv"),
                size: 12,
                crc: Some(0xabcd),
                mtime: None,
                crc_follows: false,
            },
        ),
        (
            "PUT a 1 0000abcd mtime=1767225600\n",
            Request::Put {
                name: n("a"),
                size: 1,
                crc: Some(0xabcd),
                mtime: Some(1_767_225_600),
                crc_follows: false,
            },
        ),
        (
            "PUT a 1 - mtime=5\n",
            Request::Put {
                name: n("a"),
                size: 1,
                crc: None,
                mtime: Some(5),
                crc_follows: true,
            },
        ),
        (
            "PUT a 1 mtime=0\n",
            Request::Put {
                name: n("a"),
                size: 1,
                crc: None,
                mtime: Some(0),
                crc_follows: false,
            },
        ),
        (
            "PUT x 0\n",
            Request::Put {
                name: n("x"),
                size: 0,
                crc: None,
                mtime: None,
                crc_follows: false,
            },
        ),
    ]);
}

/// Reads, removals, listings, moves and ECHO.
#[test]
fn parses_every_verb_on_files_and_folders() {
    parses_as(vec![
        (
            "GET x\n",
            Request::Get {
                name: n("x"),
                offset: 0,
                length: None,
            },
        ),
        (
            "GET x 5 10\r\n",
            Request::Get {
                name: n("x"),
                offset: 5,
                length: Some(10),
            },
        ),
        ("STAT a%20b\n", Request::Stat { name: n("a b") }),
        ("DEL x\n", Request::Del { name: n("x") }),
        (
            "DEL logs/2026/\n",
            Request::DelFolder {
                folder: Prefix::decode(b"logs/2026/").unwrap(),
            },
        ),
        (
            "DEL /\n",
            Request::DelFolder {
                folder: Prefix::decode(b"").unwrap(),
            },
        ),
        (
            "LIST\n",
            Request::List {
                prefix: Prefix::decode(b"").unwrap(),
            },
        ),
        (
            "LIST logs/\n",
            Request::List {
                prefix: Prefix::decode(b"logs/").unwrap(),
            },
        ),
        (
            "DIR\n",
            Request::Dir {
                folder: Prefix::decode(b"").unwrap(),
            },
        ),
        (
            "DIR logs/2026\n",
            Request::Dir {
                folder: Prefix::decode(b"logs/2026/").unwrap(),
            },
        ),
        (
            "MOVE a/b c%20d\n",
            Request::Move {
                from: n("a/b"),
                to: n("c d"),
            },
        ),
        ("ECHO 3\n", Request::Echo { size: 3 }),
    ]);
}

/// Resumable sessions, and the connection's own verbs.
#[test]
fn parses_every_session_and_connection_verb() {
    parses_as(vec![
        (
            "UPLOAD big.iso 1000 0000abcd\n",
            Request::Upload {
                name: n("big.iso"),
                size: 1000,
                crc: 0xabcd,
            },
        ),
        (
            "APPEND 0123456789abcdef 500 250\n",
            Request::Append {
                id: "0123456789abcdef".into(),
                offset: 500,
                len: 250,
            },
        ),
        (
            "COMMIT 0123456789abcdef\n",
            Request::Commit {
                id: "0123456789abcdef".into(),
                mtime: None,
            },
        ),
        (
            "COMMIT 0123456789abcdef mtime=7\n",
            Request::Commit {
                id: "0123456789abcdef".into(),
                mtime: Some(7),
            },
        ),
        (
            "ABORT 0123456789abcdef\n",
            Request::Abort {
                id: "0123456789abcdef".into(),
            },
        ),
        ("QUIT\n", Request::Quit),
        ("HEALTH\n", Request::Health),
        ("SESSIONS\n", Request::Sessions),
    ]);
}

/// Each line parses whole as its request.
fn parses_as(cases: Vec<(&str, Request)>) {
    for (line, want) in cases {
        assert_eq!(parse(line), Ok(Some((want, line.len()))), "{line:?}");
    }
}

#[test]
fn every_split_point_of_a_valid_header_waits_for_more() {
    let line = "PUT dir/file%20name.bin 1048576 deadbeef\r\n";
    for cut in 0..line.len() {
        assert_eq!(parse(&line[..cut]), Ok(None), "cut at {cut}");
    }
    assert!(matches!(parse(line), Ok(Some((_, used))) if used == line.len()));
}

#[test]
fn reports_only_the_first_of_pipelined_requests() {
    let (req, used) = parse("QUIT\nGET x\n").unwrap().unwrap();
    assert_eq!(req, Request::Quit);
    assert_eq!(used, 5);
}

#[test]
fn skips_empty_lines() {
    assert_eq!(parse("\r\n\n"), Ok(None));
    assert_eq!(parse("\n\nQUIT\n"), Ok(Some((Request::Quit, 7))));
}

#[test]
fn malformed_lines_close_the_connection() {
    for line in [
        "put x 1\n",
        "FETCH x\n",
        "PUT x\n",
        "PUT x -1\n",
        "PUT x 1 2 3\n",
        "PUT x 99999999999999999999999\n",
        "PUT x 1 abc\n",
        "PUT x 1 0000000g\n",
        "PUT x 1 mtime=1 0000abcd\n",
        "PUT x 1 0000abcd mtime=-1\n",
        "PUT x 1 0000abcd mtime=9223372036854775808\n",
        "PUT x 1 0000abcd 7\n",
        "COMMIT 0123456789abcdef 7\n",
        "PUT x 1 mtime=1 -\n",
        "PUT x 1 --\n",
        "UPLOAD x 1 -\n",
        "GET  x\n",
        "GET x \n",
        "GET x y\n",
        "QUIT now\n",
        "ECHO\n",
    ] {
        let err = parse(line).unwrap_err();
        assert_eq!((err.code, err.recovery), (400, Recovery::Close), "{line:?}");
    }
}

#[test]
fn bad_names_keep_the_connection_and_discard_put_bodies() {
    let err = parse("PUT ../etc/passwd 7\n").unwrap_err();
    assert_eq!(
        (err.code, err.recovery),
        (400, Recovery::Skip { line: 20, body: 7 })
    );
    let err = parse("\nGET .ferry-tmp\n").unwrap_err();
    assert_eq!(
        (err.code, err.recovery),
        (403, Recovery::Skip { line: 16, body: 0 })
    );
}

#[test]
fn bad_upload_ids_keep_the_connection_and_discard_append_bodies() {
    let err = parse("APPEND nothex 0 9\n").unwrap_err();
    assert_eq!(
        (err.code, err.recovery),
        (400, Recovery::Skip { line: 18, body: 9 })
    );
    let err = parse("COMMIT 0123456789ABCDEF\n").unwrap_err();
    assert_eq!(err.code, 400);
    assert!(matches!(err.recovery, Recovery::Skip { body: 0, .. }));
    assert_eq!(parse("UPLOAD x 1\n").unwrap_err().recovery, Recovery::Close);
}

#[test]
fn crc_trailers_are_exact() {
    assert_eq!(parse_crc_trailer(b"CRC 0000abCD\n"), Some(0xabcd));
    for bad in [
        &b"CRC 0000abcd\r\n"[..],
        b"CRC 0000abcg\n",
        b"crc 0000abcd\n",
        b"",
    ] {
        assert_eq!(parse_crc_trailer(bad), None, "{bad:?}");
    }
    let err = parse("PUT ../x 5 -\n").unwrap_err();
    assert_eq!(err.recovery, Recovery::Skip { line: 13, body: 18 });
}

#[test]
fn overlong_lines_get_431() {
    let long = vec![b'A'; MAX_HEADER];
    let err = parse_request(&long).unwrap_err();
    assert_eq!((err.code, err.recovery), (431, Recovery::Close));
    let mut just_fits = vec![b'A'; MAX_HEADER - 1];
    just_fits.push(b'\n');
    assert_eq!(parse_request(&just_fits).unwrap_err().code, 400);
    assert_eq!(parse_request(&just_fits[..MAX_HEADER - 1]), Ok(None));
}

/// The encoder's exact bytes: the canonical spelling of each verb, the
/// spelling the client has always sent.
#[test]
fn encodes_canonical_lines() {
    let line = |request: RequestLine| {
        let mut out = Vec::new();
        request.encode(&mut out);
        String::from_utf8(out).unwrap()
    };
    let put = |crc, mtime, crc_follows| RequestLine::Put {
        name: "a b/c%.bin",
        size: 12,
        crc,
        mtime,
        crc_follows,
    };
    assert_eq!(
        line(put(Some(0xabcd), None, false)),
        "PUT a%20b/c%25.bin 12 0000abcd\n"
    );
    assert_eq!(
        line(put(None, Some(7), true)),
        "PUT a%20b/c%25.bin 12 - mtime=7\n"
    );
    assert_eq!(
        line(put(None, Some(-1), false)),
        "PUT a%20b/c%25.bin 12 mtime=-1\n"
    );
    let stream = RequestLine::PutStream {
        name: "x",
        mtime: None,
    };
    assert_eq!(line(stream), "PUT x * -\n");
    let get = |offset, length| RequestLine::Get {
        name: "x",
        offset,
        length,
    };
    assert_eq!(line(get(0, None)), "GET x\n");
    assert_eq!(line(get(5, None)), "GET x 5\n");
    assert_eq!(line(get(0, Some(10))), "GET x 0 10\n");
    assert_eq!(line(RequestLine::List { prefix: "" }), "LIST\n");
    assert_eq!(
        line(RequestLine::List { prefix: "logs/a " }),
        "LIST logs/a%20\n"
    );
    assert_eq!(line(RequestLine::Dir { folder: "" }), "DIR\n");
    assert_eq!(
        line(RequestLine::Dir {
            folder: "logs/2026"
        }),
        "DIR logs/2026\n"
    );
    assert_eq!(
        line(RequestLine::Move {
            from: "a",
            to: "b\tc"
        }),
        "MOVE a b%09c\n"
    );
    assert_eq!(line(RequestLine::Echo { size: 3 }), "ECHO 3\n");
    let upload = RequestLine::Upload {
        name: "big.iso",
        size: 1000,
        crc: 0xabcd,
    };
    assert_eq!(line(upload), "UPLOAD big.iso 1000 0000abcd\n");
    let id = "0123456789abcdef";
    let append = RequestLine::Append {
        id,
        offset: 500,
        len: 250,
    };
    assert_eq!(line(append), "APPEND 0123456789abcdef 500 250\n");
    let commit = RequestLine::Commit {
        id,
        mtime: Some(1_767_225_600),
    };
    assert_eq!(line(commit), "COMMIT 0123456789abcdef mtime=1767225600\n");
    assert_eq!(line(RequestLine::Abort { id }), "ABORT 0123456789abcdef\n");
    let token = Secret::new("s3cr3t".into());
    assert_eq!(line(RequestLine::Auth { token: &token }), "AUTH s3cr3t\n");
    assert_eq!(line(RequestLine::Sessions), "SESSIONS\n");
    assert_eq!(line(RequestLine::Quit), "QUIT\n");
}

/// A parsed request is written back as its canonical line: a folder loses
/// the `/` its prefix ends in.
#[test]
fn encodes_parsed_requests() {
    for canonical in [
        "PUT a/b.csv 12 0000abcd\n",
        "PUT a 1 - mtime=5\n",
        "PUT a * - mtime=5\n",
        "GET x 5 10\n",
        "STAT a%20b\n",
        "DIR logs/2026\n",
        "DIR\n",
        "LIST logs/\n",
        "COMMIT 0123456789abcdef\n",
        "AUTH t0k3n\n",
    ] {
        let (request, _) = parse(canonical).unwrap().unwrap();
        let mut out = Vec::new();
        request.encode(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), canonical);
    }
}

#[test]
fn encodes_crc_trailers() {
    let mut out = Vec::new();
    encode_crc_trailer(0xabcd, &mut out);
    assert_eq!(parse_crc_trailer(&out), Some(0xabcd));
    assert_eq!(out, b"CRC 0000abcd\n");
    assert_eq!(out.len() as u64, CRC_TRAILER);
    out.clear();
    encode_stream_trailer(0xabcd, &mut out);
    assert_eq!(out, b"CRC 0000abcd\r\n\r\n");
    assert_eq!(parse_stream_trailer(&out), Some(0xabcd));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random bytes never panic, and an accepted request never claims
        /// more bytes than it was given or a line over the cap.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            if let Ok(Some((_, used))) = parse_request(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }

        /// Feeding a stream of valid requests in random fragments yields the
        /// same requests as feeding it whole.
        #[test]
        fn fragmentation_does_not_change_the_result(
            names in proptest::collection::vec("[a-z0-9 %ü/]{1,20}", 1..8),
            cuts in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut stream = Vec::new();
            let mut want = Vec::new();
            for (i, raw) in names.iter().enumerate() {
                let Ok(name) = Name::new(raw.clone()) else { continue };
                let request = Request::Get { name, offset: i as u64, length: None };
                request.encode(&mut stream);
                want.push(request);
            }
            let mut got = Vec::new();
            let mut buffered = Vec::new();
            let mut fed = 0;
            let mut cut = cuts.iter().cycle();
            while fed < stream.len() {
                let step = (*cut.next().unwrap()).min(stream.len() - fed);
                buffered.extend_from_slice(&stream[fed..fed + step]);
                fed += step;
                while let Some((req, used)) = parse_request(&buffered).unwrap() {
                    got.push(req);
                    buffered.drain(..used);
                }
            }
            prop_assert_eq!(got, want);
        }

        /// Any UTF-8 name that validates survives encode -> parse, in
        /// every verb that takes one. (Every request, with all its
        /// fields: `tests/protocol/properties.rs`.)
        #[test]
        fn encoded_names_round_trip(raw in "\\PC{1,40}", offset: u64, crc: u32) {
            let Ok(name) = Name::new(raw) else { return Ok(()) };
            let folder = Prefix::new(format!("{name}/")).unwrap();
            for request in [
                Request::Stat { name: name.clone() },
                Request::Get { name: name.clone(), offset, length: None },
                Request::Upload { name: name.clone(), size: offset, crc },
                Request::Move { from: name.clone(), to: name.clone() },
                Request::Dir { folder: folder.clone() },
                Request::DelFolder { folder },
            ] {
                let mut line = Vec::new();
                request.encode(&mut line);
                prop_assert_eq!(parse_request(&line), Ok(Some((request, line.len()))));
            }
        }
    }
}

#[test]
fn dir_of_a_folder_of_the_longest_name_is_its_prefix() {
    // A folder's name may be as long as any name; its entries' prefix is
    // one byte longer. (The fuzz reference found DIR refusing it.)
    let segment = "d".repeat(200);
    let long = [segment.as_str(); 5].join("/");
    let long = format!("{long}/{}", "g".repeat(1024 - long.len() - 1));
    assert_eq!(long.len(), 1024);
    let line = format!("DIR {long}\n");
    let (request, _) = parse(&line).unwrap().unwrap();
    let Request::Dir { folder } = request else {
        panic!("{request:?}");
    };
    assert_eq!(folder.as_str(), format!("{long}/"));
}

/// `SHARE` of a file, a folder, the root, with its terms in their order;
/// `SHARES`; `UNSHARE`; and how each refusal leaves the connection.
#[cfg(feature = "shares")]
#[test]
fn parses_the_share_link_verbs() {
    let terms = |upload, expires, max_downloads, password: Option<&str>| LinkTerms {
        upload,
        expires,
        max_downloads,
        password: password.map(|p| Secret::new(p.to_owned())),
    };
    parses_as(vec![
        (
            "SHARE docs/r.pdf read\n",
            Request::Share {
                name: n("docs/r.pdf"),
                terms: terms(false, None, None, None),
            },
        ),
        (
            "SHARE photos/ upload expires=604800 max=3 password=open%20sesame%25\n",
            Request::ShareFolder {
                folder: Prefix::of_folder(&n("photos")),
                terms: terms(true, Some(604_800), Some(3), Some("open sesame%")),
            },
        ),
        (
            "SHARE / read max=0\n",
            Request::ShareFolder {
                folder: Prefix::root(),
                terms: terms(false, None, Some(0), None),
            },
        ),
        ("SHARES\n", Request::Shares),
        (
            "UNSHARE AAAAAAAAAAAAAAAAAAAA-_\n",
            Request::Unshare {
                id: "AAAAAAAAAAAAAAAAAAAA-_".into(),
            },
        ),
    ]);
    for fatal in [
        "SHARE x\n",
        "SHARE x write\n",
        "SHARE x read max=1 expires=2\n",
        "SHARE x read expires=7d\n",
        "SHARE x read colour=red\n",
        "SHARE x read password=a password=b\n",
        "SHARES x\n",
        "UNSHARE\n",
    ] {
        let err = parse(fatal).unwrap_err();
        assert_eq!(
            (err.code, err.recovery),
            (400, Recovery::Close),
            "{fatal:?}"
        );
    }
    for (line, code) in [
        ("SHARE ../x read\n", 400),
        ("SHARE .ferry-shares/ read\n", 403),
        ("SHARE x read password=\n", 400),
        ("SHARE x read password=%zz\n", 400),
        ("SHARE x read password=%ff\n", 400),
        ("UNSHARE short\n", 400),
    ] {
        let err = parse(line).unwrap_err();
        let skip = Recovery::Skip {
            line: line.len(),
            body: 0,
        };
        assert_eq!((err.code, err.recovery), (code, skip), "{line:?}");
    }
}

/// Without share links, their verbs are answered 501 whatever follows,
/// and the connection goes on.
#[cfg(not(feature = "shares"))]
#[test]
fn a_build_without_share_links_refuses_their_verbs() {
    for line in [
        "SHARE x read\n",
        "SHARES\n",
        "UNSHARE x\n",
        "SHARE x write\n",
    ] {
        let err = parse(line).unwrap_err();
        let skip = Recovery::Skip {
            line: line.len(),
            body: 0,
        };
        assert_eq!((err.code, err.recovery), (501, skip), "{line:?}");
    }
}

#[cfg(feature = "shares")]
#[test]
fn encodes_the_share_link_verbs() {
    for canonical in [
        "SHARE a%20b.pdf read\n",
        "SHARE photos/ upload expires=60 max=2 password=p%25%20w\n",
        "SHARE / read\n",
        "SHARES\n",
        "UNSHARE AAAAAAAAAAAAAAAAAAAA-_\n",
    ] {
        let (request, _) = parse(canonical).unwrap().unwrap();
        let mut out = Vec::new();
        request.encode(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), canonical);
    }
}

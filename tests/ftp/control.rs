//! The FTP control connection byte for byte: a login is a token, each
//! command an operation under that token's grants, answered with RFC
//! 959's codes (RFC 3659's for a file's facts).

use crate::support;

use support::{TestServer, listen_ftp};

use crate::support::ftp::{ask, connect, line, log_in, reply};

#[test]
fn a_token_logs_in_and_each_command_is_an_operation_on_the_root() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    let mut raw = connect(&server);
    assert!(
        ask(&mut raw, "PWD").starts_with("530 "),
        "nothing before a login"
    );
    assert!(ask(&mut raw, "PASS x").starts_with("503 "), "USER first");
    // No --anonymous grant: no anonymous login.
    assert!(ask(&mut raw, "USER anonymous").starts_with("331 "));
    assert_eq!(
        ask(&mut raw, "PASS me@example.com"),
        "530 no anonymous logins here: a token is the password"
    );
    assert_eq!(ask(&mut raw, "USER cam"), "331 your token is the password");
    assert!(ask(&mut raw, "PASS not-a-token").starts_with("530 "));
    assert!(
        ask(&mut raw, "CWD /").starts_with("530 "),
        "still not logged in"
    );
    log_in(&mut raw, "cam", &tokens[0]);

    assert_eq!(ask(&mut raw, "PWD"), "257 \"/\" is the working folder");
    assert_eq!(ask(&mut raw, "MKD photos"), "257 \"/photos\" made");
    assert_eq!(
        ask(&mut raw, "CWD photos"),
        "250 \"/photos\" is the working folder"
    );
    assert_eq!(
        ask(&mut raw, "PWD"),
        "257 \"/photos\" is the working folder"
    );
    // Relative to the working folder, once.
    assert_eq!(ask(&mut raw, "MKD sub"), "257 \"/photos/sub\" made");
    assert!(server.root.path().join("photos/sub").is_dir());
    // A folder renamed whole; a name not there is no rename.
    assert_eq!(ask(&mut raw, "RNFR sub"), "350 ready for RNTO");
    assert_eq!(ask(&mut raw, "RNTO renamed"), "250 done");
    assert!(server.root.path().join("photos/renamed").is_dir());
    assert!(ask(&mut raw, "RNFR sub").starts_with("550 "));
    assert!(
        ask(&mut raw, "RNTO other").starts_with("503 "),
        "RNFR first"
    );
    assert_eq!(ask(&mut raw, "RMD renamed"), "250 done");
    std::fs::write(server.root.path().join("photos/a.jpg"), b"hello").unwrap();
    assert_eq!(ask(&mut raw, "SIZE a.jpg"), "213 5");
    let mdtm = ask(&mut raw, "MDTM /photos/a.jpg");
    assert!(mdtm.starts_with("213 20") && mdtm.len() == 18, "{mdtm}");
    assert!(
        ask(&mut raw, "SIZE ../photos").starts_with("550 "),
        "a folder"
    );
    assert!(ask(&mut raw, "SIZE nothing.jpg").starts_with("550 "));
    raw.send("MLST a.jpg\r\n");
    let entry = [line(&mut raw), line(&mut raw), line(&mut raw)];
    assert_eq!(entry[0], "250-Listing /photos/a.jpg");
    assert!(
        entry[1].starts_with(" type=file;size=5;modify=20")
            && entry[1].ends_with(";perm=rawdf; /photos/a.jpg"),
        "{entry:?}"
    );
    assert_eq!(entry[2], "250 End");
    // MFMT sets the time MDTM and MLST read back (rclone and lftp keep a
    // file's time so).
    assert_eq!(
        ask(&mut raw, "MFMT 20240103040506 a.jpg"),
        "213 Modify=20240103040506; /photos/a.jpg"
    );
    assert_eq!(ask(&mut raw, "MDTM a.jpg"), "213 20240103040506");
    assert!(ask(&mut raw, "MFMT yesterday a.jpg").starts_with("501 "));
    assert!(ask(&mut raw, "MFMT 20240103040506 none.jpg").starts_with("550 "));
    // A time the file system refuses (an immutable file) is not told as
    // set (a storage failure: 451, to try again): it was (213), the time
    // alone failing taken for another change's failure.
    match support::tools::Immutable::made(&server.path("photos/a.jpg")) {
        Some(_immutable) => {
            let refused = ask(&mut raw, "MFMT 20250103040506 a.jpg");
            assert_eq!(refused, "451 its time was not set");
        }
        None => eprintln!("skipped: chattr +i is not served here"),
    }
    raw.send("MLST /photos\r\n");
    let entry = [line(&mut raw), line(&mut raw), line(&mut raw)];
    assert_eq!(entry[1], " type=dir;perm=elcmdpf; /photos", "{entry:?}");
    assert_eq!(
        reply_to(&mut raw, "MLST /"),
        ["250-Listing /", " type=dir;perm=elcmp; /", "250 End"]
    );
    assert!(ask(&mut raw, "RMD /").starts_with("5"), "the root stays");
    assert!(ask(&mut raw, "MLST /photos/none.jpg").starts_with("550 "));
    assert_eq!(ask(&mut raw, "RNFR a.jpg"), "350 ready for RNTO");
    assert_eq!(ask(&mut raw, "RNTO b.jpg"), "250 done");
    assert!(server.root.path().join("photos/b.jpg").exists());
    assert!(
        ask(&mut raw, "RNTO c.jpg").starts_with("503 "),
        "RNFR first"
    );
    assert_eq!(ask(&mut raw, "DELE b.jpg"), "250 done");
    assert!(ask(&mut raw, "DELE b.jpg").starts_with("550 "));
    // Folders are things of their own: emptied, it stays.
    assert!(server.root.path().join("photos").is_dir());
    assert_eq!(ask(&mut raw, "CDUP"), "250 \"/\" is the working folder");
    assert!(ask(&mut raw, "CWD nowhere").starts_with("550 "));
    assert!(
        ask(&mut raw, "CWD ../../..").starts_with("250 \"/\""),
        "the root stays the root"
    );
    assert_eq!(ask(&mut raw, "RMD photos"), "250 done");
    assert!(!server.root.path().join("photos").exists());
    // MKD makes one folder, in a folder that is there.
    let nested = ask(&mut raw, "MKD x/y/z");
    assert_eq!(nested, "550 the parent folder does not exist");
    // RMD takes folders only: a file is not one.
    std::fs::write(server.root.path().join("note.txt"), b"x").unwrap();
    assert_eq!(ask(&mut raw, "RMD note.txt"), "550 no such folder");
    assert!(server.root.path().join("note.txt").exists());

    assert!(ask(&mut raw, "RETR x").starts_with("425 "), "PASV first");
    assert!(ask(&mut raw, "STOR x").starts_with("425 "), "PASV first");
    assert!(ask(&mut raw, "APPE x").starts_with("425 "), "PASV first");
    assert!(ask(&mut raw, "STOU").starts_with("502 "));
    assert!(ask(&mut raw, "SITE CHMOD 644 x").starts_with("202 "));
    assert_eq!(ask(&mut raw, "ABOR"), "225 no transfer under way");
    raw.send("STAT\r\n");
    let status = [line(&mut raw), line(&mut raw), line(&mut raw)];
    assert_eq!(status[0], "211-ferry FTP status");
    assert_eq!(status[2], " working folder \"/\"");
    assert_eq!(line(&mut raw), " control and data in the clear");
    assert_eq!(line(&mut raw), "211 End");
    assert!(ask(&mut raw, "XYZZY").starts_with("500 "));
    assert_eq!(ask(&mut raw, "QUIT"), "221 goodbye");
    raw.expect_closed();
}

#[test]
fn a_tokens_grants_hold_for_every_command() {
    let holders: &[(&str, &[&str])] = &[("reader", &["read:/pub/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    std::fs::create_dir_all(server.root.path().join("pub/in")).unwrap();
    std::fs::create_dir_all(server.root.path().join("secret")).unwrap();
    std::fs::write(server.root.path().join("pub/a"), b"a").unwrap();
    std::fs::write(server.root.path().join("secret/s"), b"s").unwrap();
    let mut raw = connect(&server);
    log_in(&mut raw, "reader", &tokens[0]);
    assert!(ask(&mut raw, "CWD pub").starts_with("250 "));
    assert_eq!(ask(&mut raw, "SIZE a"), "213 1");
    for refused in [
        "DELE a",
        "MKD new",
        "RMD /pub",
        "CWD /secret",
        "SIZE /secret/s",
        "MFMT 20240103040506 a",
    ] {
        let answer = ask(&mut raw, refused);
        assert!(answer.starts_with("550 "), "{refused}: {answer}");
    }
    assert_eq!(ask(&mut raw, "RNFR a"), "350 ready for RNTO");
    assert!(ask(&mut raw, "RNTO b").starts_with("550 "));
    // MLSD's perm facts say as much: read and enter, nothing more.
    let (bytes, _, _) = crate::support::ftp::transfer(&mut raw, "MLSD");
    let facts = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = facts.lines().collect();
    assert_eq!(lines[0], "type=dir;perm=el; in", "{facts}");
    assert!(lines[1].ends_with(";perm=r; a"), "{facts}");
    // MLST says the same of one entry; STAT lists what LIST would, on
    // the control connection; what it may not read is not there.
    let file = reply_to(&mut raw, "MLST a");
    assert!(file[1].ends_with(";perm=r; /pub/a"), "{file:?}");
    assert_eq!(
        reply_to(&mut raw, "MLST in")[1],
        " type=dir;perm=el; /pub/in"
    );
    let status = reply_to(&mut raw, "STAT .");
    assert_eq!(status.len(), 4, "{status:?}");
    assert!(status[2].ends_with(" a"), "{status:?}");
    for refused in [
        "MLST /secret/s",
        "MLST /secret",
        "STAT /secret",
        "STAT /secret/s",
    ] {
        let answer = ask(&mut raw, refused);
        assert!(answer.starts_with("550 "), "{refused}: {answer}");
    }
    // A wildcard or a file named lists only what the token may read: of
    // the root, the folder its grant is in; nothing of /secret.
    let (bytes, _, _) = crate::support::ftp::transfer(&mut raw, "NLST /*");
    assert_eq!(String::from_utf8(bytes).unwrap(), "/pub\r\n");
    let (bytes, _, _) = crate::support::ftp::transfer(&mut raw, "NLST a*");
    assert_eq!(String::from_utf8(bytes).unwrap(), "a\r\n");
    for refused in ["NLST /secret/*", "LIST /secret/s", "NLST /secret/s"] {
        let addr = crate::support::ftp::passive(&mut raw);
        let _data = std::net::TcpStream::connect(addr).unwrap();
        let answer = ask(&mut raw, refused);
        assert!(answer.starts_with("550 "), "{refused}: {answer}");
    }
    assert!(server.root.path().join("pub/a").exists());
    assert!(server.root.path().join("secret/s").exists());
}

#[test]
fn without_access_control_any_password_logs_in_and_anonymous_gets_the_anonymous_grants() {
    let server = TestServer::start_with(listen_ftp);
    let mut raw = connect(&server);
    assert_eq!(ask(&mut raw, "SYST"), "215 UNIX Type: L8");
    log_in(&mut raw, "someone", "anything");
    assert!(
        ask(&mut raw, "USER other").starts_with("530 "),
        "one login a connection"
    );
    assert_eq!(ask(&mut raw, "TYPE I"), "200 binary");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");

    let holders: &[(&str, &[&str])] = &[("cam", &["write:/"])];
    let (guarded, _tokens, _dir) = support::tokens::guarded_with(holders, &["read:/"], listen_ftp);
    std::fs::write(guarded.root.path().join("open"), b"12").unwrap();
    let mut raw = connect(&guarded);
    log_in(&mut raw, "anonymous", "me@example.com");
    assert_eq!(ask(&mut raw, "SIZE open"), "213 2");
    let refused = ask(&mut raw, "MKD mine");
    assert!(refused.starts_with("550 "), "{refused}");
}

#[test]
fn feat_lists_what_is_served() {
    let server = TestServer::start_with(listen_ftp);
    let mut raw = connect(&server);
    raw.send("FEAT\r\n");
    let mut lines = vec![line(&mut raw)];
    while !lines.last().unwrap().starts_with("211 ") {
        lines.push(line(&mut raw));
    }
    assert_eq!(
        lines,
        [
            "211-Features:",
            " UTF8",
            " SIZE",
            " MDTM",
            " MFMT",
            " REST STREAM",
            " EPSV",
            " MLST type*;size*;modify*;perm*;",
            "211 End"
        ]
    );
    assert_eq!(ask(&mut raw, "OPTS UTF8 ON"), "200 UTF-8 always");
    assert!(ask(&mut raw, "OPTS MODE Z").starts_with("501 "));
}

/// `OPTS MLST` (RFC 3659 §7.9) chooses the facts `MLST` and `MLSD` give:
/// those served among the names (case aside), said back; `FEAT` stars
/// them; none at all is a choice too.
#[test]
fn opts_mlst_chooses_the_facts_given() {
    let (server, mut raw) = crate::support::ftp::logged_in();
    std::fs::write(server.root.path().join("a.csv"), b"12345").unwrap();
    assert_eq!(
        ask(&mut raw, "OPTS MLST Size;unix.mode;PERM;"),
        "200 MLST OPTS size;perm;"
    );
    let feat = reply_to(&mut raw, "FEAT");
    assert!(
        feat.contains(&" MLST type;size*;modify;perm*;".to_owned()),
        "{feat:?}"
    );
    assert_eq!(
        reply_to(&mut raw, "MLST a.csv")[1],
        " size=5;perm=rawdf; /a.csv"
    );
    let (listed, _, _) = crate::support::ftp::transfer(&mut raw, "MLSD");
    assert_eq!(listed, b"size=5;perm=rawdf; a.csv\r\n");
    assert_eq!(ask(&mut raw, "OPTS MLST"), "200 MLST OPTS");
    assert_eq!(reply_to(&mut raw, "MLST /")[1], "  /");
    assert_eq!(
        ask(&mut raw, "OPTS MLST type;size;modify;perm;"),
        "200 MLST OPTS type;size;modify;perm;"
    );
    assert!(reply_to(&mut raw, "MLST a.csv")[1].starts_with(" type=file;size=5;modify="));
}

/// `STAT <path>` (RFC 959): `LIST`'s lines on the control connection,
/// between `213-` and `213 `: a folder's entries, a file's one line, any
/// size of folder (sent as any listing is), and the next command read.
#[test]
fn stat_of_a_path_lists_it_on_the_control_connection() {
    let (server, mut raw) = crate::support::ftp::logged_in();
    let photos = server.root.path().join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    std::fs::write(photos.join("a.jpg"), b"hello").unwrap();
    let status = reply_to(&mut raw, "STAT photos");
    assert_eq!(status[0], "213-Status of \"/photos\":");
    assert!(
        status[1].starts_with("drwxr-xr-x 1 ferry ferry ") && status[1].ends_with(" sub"),
        "{status:?}"
    );
    assert!(
        status[2].starts_with("-rw-r--r-- 1 ferry ferry            5 ")
            && status[2].ends_with(" a.jpg"),
        "{status:?}"
    );
    assert_eq!(status[3], "213 End of status");
    assert_eq!(status.len(), 4);
    // The options clients send before a path are left out, as LIST's.
    assert_eq!(reply_to(&mut raw, "STAT -la /photos"), status);
    let file = reply_to(&mut raw, "STAT /photos/a.jpg");
    assert_eq!(file.len(), 3, "{file:?}");
    assert!(file[1].ends_with(" photos/a.jpg"), "{file:?}");
    assert!(ask(&mut raw, "STAT nowhere").starts_with("550 "));

    // Bigger than a reply sent inline: 2,000 lines, all there, in order.
    let many = server.root.path().join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..2000 {
        std::fs::write(many.join(format!("file-{i:04}.csv")), b"x").unwrap();
    }
    let status = reply_to(&mut raw, "STAT many");
    assert_eq!(status.len(), 2002);
    for (i, line) in status[1..2001].iter().enumerate() {
        assert!(line.ends_with(&format!(" file-{i:04}.csv")), "{line}");
    }
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
}

/// Sends `command` and reads its reply, of one line or several.
fn reply_to(raw: &mut crate::support::Raw, command: &str) -> Vec<String> {
    raw.send(format!("{command}\r\n"));
    reply(raw)
}

/// Garbage is answered and the next command read; a line without end is
/// answered and the connection closed, and the server serves others
/// meanwhile. Pipelined commands are answered in order.
#[test]
fn garbage_and_an_endless_line_are_answered_and_others_are_served() {
    let server = TestServer::start_with(listen_ftp);
    let mut raw = connect(&server);
    raw.send(b"\xff\xfe garbage\r\n");
    assert_eq!(line(&mut raw), "500 not a command");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    raw.send("NOOP\r\nSYST\r\nNOOP\r\n");
    assert_eq!(
        [line(&mut raw), line(&mut raw), line(&mut raw)],
        ["200 ok", "215 UNIX Type: L8", "200 ok"]
    );

    let mut endless = connect(&server);
    endless.send(vec![b'A'; 10 * 1024]);
    let mut other = connect(&server);
    assert_eq!(ask(&mut other, "NOOP"), "200 ok");
    assert_eq!(line(&mut endless), "500 command line too long");
    endless.expect_closed();
}

/// Failed logins share the per-address throttle: past the free ones, a
/// login is answered `421` and the control connection closed, as RFC 959
/// says of 421 (it stayed open before); the address's other connections
/// are refused alike until the throttle lets go.
#[test]
fn a_throttled_login_is_answered_421_and_the_connection_closed() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/"])];
    let (server, _tokens, _dir) =
        crate::support::tokens::guarded_with(holders, &[], crate::support::listen_ftp);
    let mut raw = connect(&server);
    for _ in 0..ferry::access::throttle::FREE_FAILURES {
        assert!(ask(&mut raw, "USER cam").starts_with("331 "));
        let refused = ask(&mut raw, "PASS ferry_guess");
        assert!(refused.starts_with("530 "), "{refused}");
    }
    assert!(ask(&mut raw, "USER cam").starts_with("331 "));
    let throttled = ask(&mut raw, "PASS ferry_guess");
    assert!(throttled.starts_with("421 "), "{throttled}");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut raw.stream, &mut rest).unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

/// A write-only camera renames its own upload (Axis cameras upload to a
/// temporary name, then RNFR/RNTO): RNFR of a name its token may not read
/// is `350` without a look (it learns nothing of what is there), and RNTO
/// is judged as HTTP's and FERRY/1's MOVE are, by `delete` on the old name
/// and `write` on the new. Before, RNFR needed `read` (`550 may not
/// read`).
#[test]
fn a_write_only_token_renames_its_upload() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:cams/", "delete:cams/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    std::fs::create_dir(server.path("cams")).unwrap();
    let mut raw = connect(&server);
    log_in(&mut raw, "cam", &tokens[0]);
    let (began, ended) = crate::support::ftp::store(&mut raw, "cams/.upload.jpg", b"jpeg");
    assert!(
        began.starts_with("150 ") && ended.starts_with("226 "),
        "{ended}"
    );
    assert_eq!(ask(&mut raw, "RNFR cams/.upload.jpg"), "350 ready for RNTO");
    assert_eq!(ask(&mut raw, "RNTO cams/front.jpg"), "250 done");
    assert_eq!(
        std::fs::read(server.path("cams/front.jpg")).unwrap(),
        b"jpeg"
    );
    // A name that is not there: the same 350, then RNTO's refusal.
    assert_eq!(ask(&mut raw, "RNFR cams/none.jpg"), "350 ready for RNTO");
    assert!(ask(&mut raw, "RNTO cams/x.jpg").starts_with("550 "));
    // Out of its grants, RNTO is refused and nothing moves.
    assert_eq!(ask(&mut raw, "RNFR cams/front.jpg"), "350 ready for RNTO");
    assert!(ask(&mut raw, "RNTO elsewhere.jpg").starts_with("550 "));
    assert!(server.path("cams/front.jpg").exists());
}

/// A grant on `team/` is on what the folder holds, not on `team`: `RMD
/// team` is refused, and `MLST team` says so (`perm` without `d` and
/// `f`) exactly as `MLSD` of the root lists it, while `p` says what is in
/// it may go. Before, MLST claimed `elcmdpf` where MLSD said `elcmp`.
#[test]
fn mlst_of_a_folder_says_what_mlsd_says_of_it() {
    let holders: &[(&str, &[&str])] = &[("team", &["read:team/", "write:team/", "delete:team/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    std::fs::create_dir_all(server.root.path().join("team/sub")).unwrap();
    let mut raw = connect(&server);
    log_in(&mut raw, "team", &tokens[0]);
    let (bytes, _, _) = crate::support::ftp::transfer(&mut raw, "MLSD /");
    let listed = String::from_utf8(bytes).unwrap();
    assert_eq!(listed, "type=dir;perm=elcmp; team\r\n");
    assert_eq!(
        reply_to(&mut raw, "MLST /team")[1],
        " type=dir;perm=elcmp; /team"
    );
    assert!(ask(&mut raw, "RMD /team").starts_with("550 "));
    // Within it, a folder may go: MLSD and MLST agree on that too.
    let (bytes, _, _) = crate::support::ftp::transfer(&mut raw, "MLSD /team");
    let listed = String::from_utf8(bytes).unwrap();
    assert_eq!(listed, "type=dir;perm=elcmdpf; sub\r\n");
    assert_eq!(
        reply_to(&mut raw, "MLST /team/sub")[1],
        " type=dir;perm=elcmdpf; /team/sub"
    );
    assert!(ask(&mut raw, "RMD /team/sub").starts_with("250 "));
}

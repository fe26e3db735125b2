//! Folder trees by FTP with the tools that sync them: lftp (`mirror -R`
//! up and `mirror` back, plain and over FTPS; into a folder its token's
//! grant makes), wget (`-r` down) and
//! rclone's ftp backend (`copy`, `check`, `sync` both ways, plain and with
//! explicit TLS: its parallel logins share one TLS session cache, so a
//! data connection resumes a sibling login's session, which the server
//! takes under the same token), each logging in with a token, each tree read back byte
//! for byte. Each is skipped, saying so, where its tool is missing
//! (Debian: `apt-get install -y lftp wget rclone`; `.ci/run` installs
//! them).

use crate::support;

use std::process::Command;

use support::tools::{check, have};
use support::trees::{assert_same_tree, tree};
use support::{TestServer, listen_ftp};

/// Longest one tool's run may take (it ends by itself well before).
const STEP: &str = "120";

/// A server with an FTP listener (and a certificate where `tls`) that
/// requires a token; the token, and the folders of the certificate and
/// of the token file (kept while the server runs).
fn server(tls: bool) -> (TestServer, String, [tempfile::TempDir; 2]) {
    server_granting(tls, &["read:/", "write:/", "delete:/"])
}

/// [`server`], its token holding `grants`.
fn server_granting(tls: bool, grants: &[&str]) -> (TestServer, String, [tempfile::TempDir; 2]) {
    let certs = tempfile::tempdir().unwrap();
    let files = tls.then(|| support::certificate_in(certs.path())).flatten();
    let holders: &[(&str, &[&str])] = &[("sync", grants)];
    let (server, tokens, tokens_dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        config.tls = files;
    });
    (server, tokens[0].clone(), [certs, tokens_dir])
}

/// `program` with `args`, bounded by [`STEP`]; its stdout, once it
/// succeeded.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new("timeout")
        .args(["-k", "5", STEP, program])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("timeout runs");
    check(&output, program)
}

#[test]
fn lftp_mirrors_a_tree_up_and_back_plain_and_over_ftps() {
    if !have("lftp", &["--version"], "apt-get install lftp") {
        return;
    }
    for tls in support::with_tls_where_built() {
        let (server, token, certs) = server(tls);
        let here = tempfile::tempdir().unwrap();
        tree(&here.path().join("tree"), 3 << 20);
        let security = lftp_security(tls, &certs[0]);
        let local = here.path().display();
        let script = format!(
            "{security} set net:max-retries 1; set net:timeout 20; \
             mirror -R {local}/tree up; mirror up {local}/back; bye"
        );
        let url = format!("ftp://{}", server.ftp.unwrap());
        run(
            "lftp",
            &["-u", &format!("sync,{token}"), "-e", &script, &url],
            &[],
        );
        assert_same_tree(&here.path().join("tree"), &server.root.path().join("up"));
        assert_same_tree(&here.path().join("tree"), &here.path().join("back"));
    }
}

/// lftp's settings for a session plain or (`tls`) over FTPS, trusting
/// the certificate in `certs`.
fn lftp_security(tls: bool, certs: &tempfile::TempDir) -> String {
    let ca = certs.path().join("server-cert.pem");
    match tls {
        // Its certificate is the test's own, for 127.0.0.1.
        true => format!(
            "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; \
             set ssl:ca-file {}; set ssl:check-hostname no;",
            ca.display()
        ),
        false => "set ftp:ssl-allow no;".to_owned(),
    }
}

/// A token granted only `up/`, on a root where `up` is not: lftp's
/// `mirror -R` makes `up` (`MKD up`, by the grant on what it will hold)
/// and the tree in it, `put` adds a file there, `mirror` brings it all
/// back, plain and over FTPS; nothing but `up` is made on the root, and
/// `mkdir` beside it is refused.
#[test]
fn lftp_mirrors_into_a_granted_folder_it_makes() {
    if !have("lftp", &["--version"], "apt-get install lftp") {
        return;
    }
    for tls in support::with_tls_where_built() {
        let grants = ["read:up/", "write:up/", "delete:up/"];
        let (server, token, certs) = server_granting(tls, &grants);
        let root = server.root.path();
        assert_eq!(support::names_under(root), Vec::<String>::new());
        let here = tempfile::tempdir().unwrap();
        tree(&here.path().join("tree"), 3 << 20);
        std::fs::write(here.path().join("extra.csv"), b"t,v\n1,2\n").unwrap();
        let security = lftp_security(tls, &certs[0]);
        let local = here.path().display();
        let url = format!("ftp://{}", server.ftp.unwrap());
        let user = format!("sync,{token}");
        let lftp = |commands: &str| {
            let script =
                format!("{security} set net:max-retries 1; set net:timeout 20; {commands}");
            Command::new("timeout")
                .args(["-k", "5", STEP, "lftp", "-u", &user, "-e", &script, &url])
                .output()
                .expect("timeout runs")
        };
        // One run for the refusal: lftp exits with its last command's
        // status.
        let refused = lftp("mkdir beside; bye");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && said.contains("550"), "{said}");
        check(
            &lftp(&format!(
                "mirror -R {local}/tree up; put {local}/extra.csv -o up/extra.csv; \
                 mirror up {local}/back; bye"
            )),
            "lftp",
        );
        std::fs::copy(
            here.path().join("extra.csv"),
            here.path().join("tree/extra.csv"),
        )
        .unwrap();
        assert_same_tree(&here.path().join("tree"), &root.join("up"));
        assert_same_tree(&here.path().join("tree"), &here.path().join("back"));
        let made = support::names_under(root);
        assert!(made.iter().all(|name| name.starts_with("up/")), "{made:?}");
    }
}

#[test]
fn wget_fetches_a_tree_recursively() {
    if !have("wget", &["--version"], "apt-get install wget") {
        return;
    }
    let (server, token, _certs) = server(false);
    tree(&server.root.path().join("pub"), 3 << 20);
    let here = tempfile::tempdir().unwrap();
    let url = format!("ftp://sync:{token}@{}/pub/", server.ftp.unwrap());
    let into = here.path().display().to_string();
    run(
        "wget",
        &["-q", "-r", "-np", "-nH", "--tries=1", "-P", &into, &url],
        &[],
    );
    assert_same_tree(&server.root.path().join("pub"), &here.path().join("pub"));
}

#[test]
fn rclone_copies_checks_and_syncs_plain_and_over_explicit_tls() {
    if !have("rclone", &["version"], "apt-get install rclone") {
        return;
    }
    for tls in support::with_tls_where_built() {
        let (server, token, _certs) = server(tls);
        let here = tempfile::tempdir().unwrap();
        let local = here.path().join("tree");
        tree(&local, 3 << 20);
        let obscured = run("rclone", &["obscure", &token], &[]);
        let ftp = server.ftp.unwrap();
        let port = ftp.port().to_string();
        let tls = if tls { "true" } else { "false" };
        let env = [
            ("RCLONE_CONFIG", "/nonexistent"),
            ("RCLONE_CONFIG_FERRY_TYPE", "ftp"),
            ("RCLONE_CONFIG_FERRY_HOST", "127.0.0.1"),
            ("RCLONE_CONFIG_FERRY_PORT", port.as_str()),
            ("RCLONE_CONFIG_FERRY_USER", "sync"),
            ("RCLONE_CONFIG_FERRY_PASS", obscured.trim()),
            ("RCLONE_CONFIG_FERRY_EXPLICIT_TLS", tls),
            ("RCLONE_CONFIG_FERRY_NO_CHECK_CERTIFICATE", "true"),
        ];
        // Over TLS, a data connection may offer the session of a sibling
        // login that has not sent its PASS yet (rclone's logins share one
        // session cache, and Go keeps a login's ticket as soon as it
        // reads the reply to USER): the transfer waits for that login to
        // be judged. One try, so a refusal fails the test: before the
        // wait, 18 runs in 40 of this test failed so (2026-12-01, under
        // a build's load; 0 in 40 after).
        let once = ["--retries", "1", "--low-level-retries", "1"];
        let rclone = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(once);
            run("rclone", &all, &env)
        };
        let local_str = local.display().to_string();
        rclone(&["copy", &local_str, "ferry:up"]);
        assert_same_tree(&local, &server.root.path().join("up"));
        rclone(&["check", &local_str, "ferry:up"]);
        // A change and a removal, synced up; then the whole tree back.
        std::fs::write(local.join("c/three.txt"), b"three, changed\n").unwrap();
        std::fs::remove_file(local.join("a/one.txt")).unwrap();
        rclone(&["sync", &local_str, "ferry:up"]);
        assert_same_tree(&local, &server.root.path().join("up"));
        let back = here.path().join("back").display().to_string();
        rclone(&["sync", "ferry:up", &back]);
        assert_same_tree(&local, &here.path().join("back"));
    }
}

//! FTP with the clients scripts and devices are built on: Python's
//! `ftplib` (a login by token, the working folder, the commands that
//! change the root, a download and listings over passive data
//! connections, an upload) and curl (`-T`, a download and a listing,
//! EPSV first, as curl does), each plain and over FTPS (`FTP_TLS`,
//! `--ssl-reqd`; ftplib's data connections resuming the control
//! connection's TLS session as the server requires, or as it comes with
//! `--ftp-tls-reuse-optional`); curl's `-C -` going on with an upload cut off; a
//! camera's write-only token (`write:cams/`) with curl: `--ftp-create-dirs`
//! making `cams` and the folders below it on an empty root, `-C -` going
//! on with its own cut upload; the classic `ftp` client's `mget`, `mput`
//! and `mdelete` by wildcard, and the same camera's `mkdir`, `cd` and
//! `put` into its granted folder. Each is skipped, saying so, where its
//! client is missing.

use crate::support;

use std::ffi::OsStr;

use support::listen_ftp;
use support::tools::{have, python};

const SESSION: &str = r#"
import ftplib, ssl, sys
host, port, token, ca, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

class Resuming(ftplib.FTP_TLS):
    # Data connections resume the control connection's TLS session, as
    # servers that require it (vsftpd, ProFTPD, ferry) want.
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

if ca:
    # FTPS: AUTH TLS at the login, then PBSZ 0 and PROT P.
    kind = Resuming if tls == "resuming" else ftplib.FTP_TLS
    ftp = kind(context=ssl.create_default_context(cafile=ca))
else:
    ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
print(ftp.getwelcome())
try:
    ftp.login("cam", "wrong-token")
except ftplib.error_perm as refused:
    print("refused:", str(refused)[:3])
print(ftp.login("cam", token)[:3])
if ca:
    ftp.prot_p()
print(ftp.pwd())
print(ftp.mkd("empty"))
ftp.cwd("dcim")
print(ftp.pwd())
print(ftp.size("shot.jpg"))
got = bytearray()
ftp.retrbinary("RETR shot.jpg", got.extend)
print(bytes(got).decode())
print(",".join(ftp.nlst()))
rows = []
ftp.dir(rows.append)
print(rows[0].split()[0], rows[0].split()[-1])
import io
ftp.storbinary("STOR upload.bin", io.BytesIO(b"x" * 300000))
print(ftp.size("upload.bin"))
ftp.rename("shot.jpg", "kept.jpg")
ftp.delete("kept.jpg")
ftp.cwd("..")
ftp.rmd("empty")
try:
    ftp.size("dcim/none.jpg")
except ftplib.error_perm as missing:
    print("missing:", str(missing)[:3])
# ABOR with no transfer under way (ftplib sends it urgent; over TLS it
# cannot, and says so).
print(ftp.abort()[:3] if not ca else "225")
print(ftp.quit()[:3])
"#;

#[test]
fn ftplib_logs_in_with_a_token_and_changes_the_root_plain_and_over_ftps() {
    if !have(
        "python3",
        &["-c", "import ftplib"],
        "apt-get install python3",
    ) {
        return;
    }
    ftplib_session(None);
    if support::with_tls_where_built().contains(&true) {
        ftplib_session(Some("resuming"));
        // Stock FTP_TLS never resumes: served where the server allows.
        ftplib_session(Some("stock"));
    }
}

/// Python's ftplib through [`SESSION`], over FTPS where `tls` names its
/// data connections' kind of TLS session.
fn ftplib_session(tls: Option<&str>) {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, dir) = support::tokens::guarded_with(holders, &[], |config| {
        certified_ftp(config, tls.is_some());
        config.ftp.tls_reuse_optional = tls == Some("stock");
    });
    let ca = match tls.is_some() {
        true => dir.path().join("server-cert.pem").display().to_string(),
        false => String::new(),
    };
    let ftp = server.ftp.unwrap();
    std::fs::create_dir(server.root.path().join("dcim")).unwrap();
    std::fs::write(server.root.path().join("dcim/shot.jpg"), b"jpeg!").unwrap();
    let args = [
        ftp.ip().to_string(),
        ftp.port().to_string(),
        tokens[0].clone(),
        ca,
        tls.unwrap_or("plain").to_owned(),
    ];
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let printed = python(SESSION, &args);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines,
        [
            "220 ferry FTP ready",
            "refused: 530",
            "230",
            "/",
            "/empty",
            "/dcim",
            "5",
            "jpeg!",
            "shot.jpg",
            "-rw-r--r-- shot.jpg",
            "300000",
            "missing: 550",
            "225",
            "221",
        ]
    );
    assert!(!server.root.path().join("empty").exists());
    assert!(!server.root.path().join("dcim/shot.jpg").exists());
    let stored = std::fs::read(server.root.path().join("dcim/upload.bin")).unwrap();
    assert!(stored == vec![b'x'; 300_000], "stored whole");
    assert!(
        server.root.path().join("dcim").is_dir(),
        "emptied, it stays"
    );
}

/// A server with an FTP listener that requires a token of `holders`, with
/// a certificate (`server-cert.pem` in the folder returned) where `tls`.
fn guarded_ftp(
    holders: &[(&str, &[&str])],
    tls: bool,
) -> (support::TestServer, Vec<String>, tempfile::TempDir) {
    support::tokens::guarded_with(holders, &[], |config| certified_ftp(config, tls))
}

/// An FTP listener, with a certificate where `tls`.
fn certified_ftp(config: &mut ferry::config::Config, tls: bool) {
    listen_ftp(config);
    // The tokens' folder holds the certificate too.
    if tls && let Some(tokens) = &config.access.tokens {
        let dir = tokens.parent().expect("a folder");
        config.tls = support::certificate_in(dir);
    }
}

#[test]
fn curl_uploads_downloads_and_lists_plain_and_with_ssl_reqd() {
    if !have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    for tls in support::with_tls_where_built() {
        curl_session(tls);
    }
}

/// curl's upload, download and listing, over FTPS (`--ssl-reqd`) where
/// `tls`.
fn curl_session(tls: bool) {
    let holders: &[(&str, &[&str])] = &[("cam", &["read:/", "write:/"])];
    let (server, tokens, dir) = guarded_ftp(holders, tls);
    let ca = dir.path().join("server-cert.pem");
    let secure: Vec<&std::ffi::OsStr> = match tls {
        true => vec!["--ssl-reqd".as_ref(), "--cacert".as_ref(), ca.as_os_str()],
        false => Vec::new(),
    };
    let ftp = server.ftp.unwrap();
    std::fs::create_dir(server.root.path().join("dcim")).unwrap();
    let body = support::pattern(1 << 20, 3);
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("shot.jpg");
    std::fs::write(&local, &body).unwrap();
    let user = format!("cam:{}", tokens[0]);
    let curl_with = |path: &str, extra: &[&std::ffi::OsStr]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--user".as_ref(), user.as_ref()];
        args.extend(&secure);
        args.extend(extra);
        curl(&args, &format!("ftp://{ftp}{path}"))
    };
    let curl = |path: &str| curl_with(path, &[]);
    // `curl -T`: STOR, as a camera's upload.
    curl_with(
        "/dcim/shot.jpg",
        &[std::ffi::OsStr::new("-T"), local.as_os_str()],
    );
    assert!(curl("/dcim/shot.jpg") == body, "the file whole");
    let listing = String::from_utf8(curl("/dcim/")).unwrap();
    assert!(listing.trim_end().ends_with(" shot.jpg"), "{listing}");
    assert!(listing.contains(" 1048576 "), "{listing}");
}

/// `curl -C - -T`: an upload cut off (its data connection reset) goes on
/// where the server kept it (`SIZE`, then `APPE` of the rest), and so
/// does one whose stream ended early (the file then holds what came).
#[test]
fn curl_goes_on_with_an_upload_cut_off() {
    if !have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("cam", &["read:/", "write:/"])];
    let (server, tokens, _dir) = guarded_ftp(holders, false);
    let root = server.root.path();
    let body = support::pattern(3 << 20, 4);
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("backup.tar");
    std::fs::write(&local, &body).unwrap();
    let mut raw = support::ftp::connect(&server);
    support::ftp::log_in(&mut raw, "cam", &tokens[0]);
    support::ftp::cut_after(&mut raw, "STOR backup.tar", &body[..1 << 20], (root, 1));
    let kept = support::ftp::size(&mut raw, "backup.tar");
    assert!(kept > 0 && !root.join("backup.tar").exists());
    let user = format!("cam:{}", tokens[0]);
    let resume = |name: &str| {
        let args = [
            "--user".as_ref(),
            user.as_ref(),
            "-C".as_ref(),
            "-".as_ref(),
        ];
        let upload = [&args[..], &["-T".as_ref(), local.as_os_str()]].concat();
        curl(&upload, &format!("ftp://{}/{name}", server.ftp.unwrap()));
    };
    resume("backup.tar");
    assert!(
        std::fs::read(root.join("backup.tar")).unwrap() == body,
        "whole"
    );
    // A stream that ended early stored its start: curl adds the rest.
    let (_, ended) = support::ftp::store(&mut raw, "second.tar", &body[..123_456]);
    assert_eq!(ended, "226 done");
    resume("second.tar");
    assert!(
        std::fs::read(root.join("second.tar")).unwrap() == body,
        "whole"
    );
}

/// A camera's token granted only `write:cams/`, on a root where `cams`
/// is not: `curl --ftp-create-dirs -T` makes `cams`, `cams/2026` and
/// `cams/2026/11` (`cams` by the grant on what it holds) and stores the
/// shot there, plain and over FTPS; nothing else is made. A token
/// granted another folder makes nothing: curl fails, the root stays
/// empty.
#[test]
fn curl_makes_the_folders_of_a_write_only_grant() {
    if !have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    for tls in support::with_tls_where_built() {
        let holders: &[(&str, &[&str])] =
            &[("cam", &["write:cams/"]), ("logger", &["write:logs/"])];
        let (server, tokens, dir) = guarded_ftp(holders, tls);
        let root = server.root.path();
        assert_eq!(support::names_under(root), Vec::<String>::new());
        let body = support::pattern(200_000, 6);
        let here = tempfile::tempdir().unwrap();
        let local = here.path().join("a.jpg");
        std::fs::write(&local, &body).unwrap();
        let url = format!("ftp://{}/cams/2026/11/a.jpg", server.ftp.unwrap());
        let ca = dir.path().join("server-cert.pem");
        let upload = |user: &str, token: &str| {
            let mut command = std::process::Command::new("curl");
            command.args(["-sS", "-v", "--max-time", "60", "--ftp-create-dirs"]);
            if tls {
                command.arg("--ssl-reqd").arg("--cacert").arg(&ca);
            }
            let user = format!("{user}:{token}");
            let output = command.args(["--user", &user, "-T"]).arg(&local).arg(&url);
            output.output().expect("curl runs")
        };
        let refused = upload("logger", &tokens[1]);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{said}");
        assert!(said.contains("< 550 "), "{said}");
        assert_eq!(support::names_under(root), Vec::<String>::new());
        support::tools::check(&upload("cam", &tokens[0]), "curl --ftp-create-dirs");
        assert_eq!(
            support::names_under(root),
            ["cams/", "cams/2026/", "cams/2026/11/", "cams/2026/11/a.jpg"]
        );
        assert!(std::fs::read(root.join("cams/2026/11/a.jpg")).unwrap() == body);
    }
}

/// The same camera's upload cut off midway goes on with `curl -C - -T`:
/// its token may not read, yet it is told its own kept bytes (`SIZE`)
/// and curl sends only the rest (`APPE`); the file is whole. The cut is
/// the server's: its minimum rate gives up on a stalled upload (curl
/// held to `--limit-rate` under it), as on a link that stopped moving,
/// and keeps what came.
#[test]
fn curl_goes_on_with_a_write_only_cameras_cut_upload() {
    if !have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("cam", &["write:cams/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        // Under 256 KiB/s over 2 s: cut. curl sends 32 KiB/s first, then
        // at loopback's rate.
        config.min_rate = 256 << 10;
        config.rate_window = std::time::Duration::from_secs(2);
    });
    let root = server.root.path();
    let body = support::pattern(3 << 20, 8);
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("a.jpg");
    std::fs::write(&local, &body).unwrap();
    let user = format!("cam:{}", tokens[0]);
    let url = format!("ftp://{}/cams/a.jpg", server.ftp.unwrap());
    let curl = |extra: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "-v", "--max-time", "60", "--ftp-create-dirs"])
            .args(["--user", &user])
            .args(extra)
            .arg("-T")
            .arg(&local)
            .arg(&url)
            .output()
            .expect("curl runs")
    };
    let cut = curl(&["--limit-rate", "32K"]);
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(!cut.status.success(), "curl was not cut: {said}");
    assert!(!root.join("cams/a.jpg").exists(), "{said}");
    let mut raw = support::ftp::connect(&server);
    support::ftp::log_in(&mut raw, "cam", &tokens[0]);
    let kept = support::ftp::size(&mut raw, "cams/a.jpg");
    assert!(kept > 0 && kept < body.len() as u64, "{kept} kept");
    let resumed = curl(&["-C", "-"]);
    let said = support::tools::check(&resumed, "curl -C - -T");
    let told = String::from_utf8_lossy(&resumed.stderr);
    let line = |want: &str| told.lines().any(|line| line.trim_end() == want);
    assert!(line(&format!("< 213 {kept}")), "{said}{told}");
    assert!(line("> APPE a.jpg"), "{told}");
    assert!(
        std::fs::read(root.join("cams/a.jpg")).unwrap() == body,
        "whole"
    );
    assert_eq!(support::names_under(root), ["cams/", "cams/a.jpg"]);
}

#[test]
fn curl_in_active_mode_where_it_is_served() {
    if !have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    let server = support::TestServer::start_with(|config| {
        listen_ftp(config);
        config.ftp.active = true;
    });
    let ftp = server.ftp.unwrap();
    std::fs::write(server.root.path().join("log.csv"), b"t,v\n1,2\n").unwrap();
    // `--ftp-port`: curl listens and sends EPRT (then PORT).
    let args = ["--ftp-port".as_ref(), "127.0.0.1".as_ref()];
    assert_eq!(curl(&args, &format!("ftp://{ftp}/log.csv")), b"t,v\n1,2\n");
}

/// The classic `ftp` client (Debian's tnftp), as old scripts drive it:
/// `mget` of a wildcard (its `NLST logs/*.csv`, each name it answers then
/// a `RETR`), from the root and from a folder; `mput` of local files;
/// `mdelete` of a wildcard.
#[test]
fn the_classic_ftp_client_gets_puts_and_deletes_by_wildcard() {
    if !have("ftp", &["-n"], "apt-get install ftp") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("logger", &["read:/", "write:/", "delete:/"])];
    let (server, tokens, _dir) = guarded_ftp(holders, false);
    let root = server.root.path();
    std::fs::create_dir(root.join("logs")).unwrap();
    for day in 1..=3 {
        let rows = format!("t,v\n{day},{}\n", day * 10);
        std::fs::write(root.join(format!("logs/day{day}.csv")), rows).unwrap();
    }
    std::fs::write(root.join("logs/notes.txt"), b"keep out of mget").unwrap();
    let here = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(here.path().join("logs")).unwrap();
    std::fs::create_dir(here.path().join("cwd")).unwrap();
    std::fs::write(here.path().join("shot1.jpg"), support::pattern(70_000, 1)).unwrap();
    std::fs::write(here.path().join("shot2.jpg"), support::pattern(5_000, 2)).unwrap();
    let script = format!(
        "user logger {token}\nbinary\nprompt off\nlcd {here}\nmget logs/*.csv\n\
         mput shot*.jpg\ncd logs\nlcd cwd\nmget day?.csv\nmdelete *.txt\nbye\n",
        token = tokens[0],
        here = here.path().display(),
    );
    let said = classic_ftp(&server, &script);
    for day in 1..=3 {
        let stored = std::fs::read(root.join(format!("logs/day{day}.csv"))).unwrap();
        for got in [format!("logs/day{day}.csv"), format!("cwd/day{day}.csv")] {
            let got = std::fs::read(here.path().join(&got));
            assert!(got.is_ok_and(|got| got == stored), "{said}");
        }
    }
    assert!(!here.path().join("logs/notes.txt").exists(), "{said}");
    for shot in ["shot1.jpg", "shot2.jpg"] {
        let sent = std::fs::read(here.path().join(shot)).unwrap();
        assert!(std::fs::read(root.join(shot)).unwrap() == sent, "{said}");
    }
    assert!(!root.join("logs/notes.txt").exists(), "{said}");
    assert!(root.join("logs/day1.csv").exists());
}

/// The classic `ftp` client with a camera's write-only token
/// (`write:cams/`) on a root where `cams` is not, from a script: `mkdir
/// cams` (`MKD`, by the grant on what it will hold), `cd cams`, `put`;
/// the shot lands, nothing else is made, and `mkdir` beside the grant is
/// refused.
#[test]
fn the_classic_ftp_client_puts_into_a_folder_its_grant_makes() {
    if !have("ftp", &["-n"], "apt-get install ftp") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("cam", &["write:cams/"])];
    let (server, tokens, _dir) = guarded_ftp(holders, false);
    let root = server.root.path();
    let here = tempfile::tempdir().unwrap();
    let shot = support::pattern(90_000, 5);
    std::fs::write(here.path().join("shot.jpg"), &shot).unwrap();
    let script = format!(
        "user cam {token}\nbinary\nlcd {here}\nmkdir beside\nmkdir cams\ncd cams\n\
         put shot.jpg\nbye\n",
        token = tokens[0],
        here = here.path().display(),
    );
    let said = classic_ftp(&server, &script);
    assert!(
        std::fs::read(root.join("cams/shot.jpg")).unwrap() == shot,
        "{said}"
    );
    assert_eq!(support::names_under(root), ["cams/", "cams/shot.jpg"]);
    let mkdirs: Vec<&str> = said.lines().filter(|l| l.contains("beside")).collect();
    assert!(mkdirs.iter().any(|l| l.starts_with("550 ")), "{said}");
}

/// The classic `ftp` client (`-n -v`) run on `server`'s FTP listener with
/// `script` on its standard input; what it printed, once it exited 0.
fn classic_ftp(server: &support::TestServer, script: &str) -> String {
    let ftp = server.ftp.unwrap();
    let mut child = std::process::Command::new("timeout")
        .args(["-k", "5", "120", "ftp", "-n", "-v"])
        .args([ftp.ip().to_string(), ftp.port().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("timeout runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    support::tools::check(&output, "ftp")
}

/// What `curl -sS` with `args` prints of `url`, once it succeeded. `-v`:
/// where it fails, its stderr holds the whole exchange (a refusal's
/// reason is on its reply line, which `-sS` alone leaves out).
fn curl(args: &[&std::ffi::OsStr], url: &str) -> Vec<u8> {
    let output = std::process::Command::new("curl")
        .args(["-sS", "-v", "--max-time", "60"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

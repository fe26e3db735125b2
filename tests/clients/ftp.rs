//! FTP with Python's `ftplib` (the standard library's client, which
//! scripts and many device tools are built on): a login by token, the
//! working folder, and the commands that change the root, as its user
//! would call them. The data connection's commands (listings, transfers)
//! are not served yet (issue 53). Skipped, saying so, without `python3`.

use crate::support;

use std::ffi::OsStr;

use support::listen_ftp;
use support::tools::{have, python};

const SESSION: &str = r#"
import ftplib, sys
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
print(ftp.getwelcome())
try:
    ftp.login("cam", "wrong-token")
except ftplib.error_perm as refused:
    print("refused:", str(refused)[:3])
print(ftp.login("cam", token)[:3])
print(ftp.pwd())
print(ftp.mkd("empty"))
ftp.cwd("dcim")
print(ftp.pwd())
print(ftp.size("shot.jpg"))
ftp.rename("shot.jpg", "kept.jpg")
ftp.delete("kept.jpg")
ftp.cwd("..")
ftp.rmd("empty")
try:
    ftp.size("dcim/none.jpg")
except ftplib.error_perm as missing:
    print("missing:", str(missing)[:3])
print(ftp.quit()[:3])
"#;

#[test]
fn ftplib_logs_in_with_a_token_and_changes_the_root() {
    if !have(
        "python3",
        &["-c", "import ftplib"],
        "apt-get install python3",
    ) {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    let ftp = server.ftp.unwrap();
    std::fs::create_dir(server.root.path().join("dcim")).unwrap();
    std::fs::write(server.root.path().join("dcim/shot.jpg"), b"jpeg!").unwrap();
    let args = [
        ftp.ip().to_string(),
        ftp.port().to_string(),
        tokens[0].clone(),
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
            "missing: 550",
            "221",
        ]
    );
    assert!(!server.root.path().join("empty").exists());
    assert!(!server.root.path().join("dcim/shot.jpg").exists());
    assert!(
        server.root.path().join("dcim").is_dir(),
        "emptied, it stays"
    );
}

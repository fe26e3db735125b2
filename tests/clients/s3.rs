//! The S3 listener with the clients people use, as their users run them:
//! boto3 (`tests/clients/s3_boto3.py`: every operation of the first
//! slice, ranges, pagination, a key like `é&+"`, the errors it raises,
//! its checksums and presigned GET and PUT URLs; over HTTP, and over
//! HTTPS, where it streams aws-chunked bodies with a checksum trailer;
//! `tests/clients/s3_boto3_multipart.py`: multipart uploads by hand and by
//! `upload_file`), the AWS CLI (`mb`, `cp` of 2 KiB, 5 MiB and 20 MiB,
//! the last in parts, both ways, `ls`, `rm`; `cp` over HTTPS, aws-chunked;
//! `sync` both ways with `--delete`, `rm --recursive`, `s3api head-object`
//! and `get-object --range`), restic (minio-go: every chunk signed;
//! `init`, `backup` of 200 files, `check --read-data`, `restore`; `init`
//! with a key granted one bucket, which makes it), rclone
//! (`copy` of 50 files and one of 30 MiB in 8 MiB parts, `check`, `sync`
//! with a deletion, times kept) and s3cmd (`mb`, `put`, `ls`, `get`,
//! `del`, `sync`). Each is skipped, saying so, where it is missing (`pip
//! install boto3 awscli s3cmd`, `apt-get install restic rclone`);
//! `.ci/run` installs them.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ferry::storage::gate::{Gate, Point};

use support::s3::S3Server;
use support::tools::{check, have};

fn owner() -> S3Server {
    S3Server::start(&[("owner", &["read:/", "write:/", "delete:/"])], &[])
}

#[test]
fn boto3_does_every_operation_of_the_first_slice() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = owner();
    boto3(&s, "s3_boto3.py", None);
    // A key with quotes, spaces and a non-ASCII letter is a file as named.
    let odd = s.server.path("boto/dir/k é&+\"x.txt");
    assert_eq!(std::fs::read(odd).unwrap().len(), 2048);
    assert_eq!(
        std::fs::read(s.server.path("boto/presigned/é x.txt")).unwrap(),
        b"presigned"
    );
    // Put through boto3's default (SigV2) presigned URL, its type signed.
    assert_eq!(
        std::fs::read(s.server.path("boto/presigned/typed.txt")).unwrap(),
        b"typed"
    );
}

/// Over HTTPS boto3 sends its uploads as aws-chunked bodies whose
/// trailer holds their checksum (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
#[test]
fn boto3_over_https_streams_aws_chunked_bodies_with_checksum_trailers() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = S3Server::start_tls(&[("owner", &["read:/", "write:/", "delete:/"])]);
    boto3(&s, "s3_boto3.py", Some(&s.ca()));
    let streamed = std::fs::read(s.server.path("boto/sums/streamed")).unwrap();
    assert_eq!(streamed.len(), 251 * 20_000, "the payload, not its coding");
}

/// Runs the boto3 script against `s` (over HTTPS trusting `ca`).
fn boto3(s: &S3Server, script: &str, ca: Option<&Path>) {
    let scheme = if ca.is_some() { "https" } else { "http" };
    let output = s.boto3(script, scheme).args(ca).output().unwrap();
    assert_eq!(check(&output, "boto3"), "ok\n");
}

/// `aws --endpoint-url ... s3 <args>` as the token's holder, in `home`.
fn aws(s: &S3Server, home: &Path, args: &[&str]) -> Output {
    aws_to(s, "http", home, args)
}

/// [`aws`] over `scheme` (`https`: trusting the server's certificate).
fn aws_to(s: &S3Server, scheme: &str, home: &Path, args: &[&str]) -> Output {
    let signer = &s.signers[0];
    let mut command = Command::new("aws");
    if scheme == "https" {
        command.arg("--ca-bundle").arg(s.ca());
    }
    command
        .arg("--endpoint-url")
        .arg(format!("{scheme}://{}", s.s3))
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", &signer.id)
        .env("AWS_SECRET_ACCESS_KEY", signer.secret())
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .output()
        .unwrap()
}

#[test]
fn the_aws_cli_makes_a_bucket_copies_lists_and_removes() {
    if !have("aws", &["--version"], "pip install awscli") {
        return;
    }
    let s = owner();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("small.bin");
    let data = support::pattern(2048, 7);
    std::fs::write(&file, &data).unwrap();
    check(&aws(&s, home.path(), &["s3", "mb", "s3://cli"]), "mb");
    check(
        &aws(
            &s,
            home.path(),
            &["s3", "cp", "small.bin", "s3://cli/in/small.bin"],
        ),
        "cp up",
    );
    assert_eq!(
        std::fs::read(s.server.path("cli/in/small.bin")).unwrap(),
        data
    );
    let listed = check(&aws(&s, home.path(), &["s3", "ls", "s3://cli/in/"]), "ls");
    assert!(listed.contains("2048 small.bin"), "{listed}");
    let buckets = check(&aws(&s, home.path(), &["s3", "ls"]), "ls buckets");
    assert!(buckets.contains(" cli"), "{buckets}");
    check(
        &aws(
            &s,
            home.path(),
            &["s3", "cp", "s3://cli/in/small.bin", "back.bin"],
        ),
        "cp down",
    );
    assert_eq!(std::fs::read(home.path().join("back.bin")).unwrap(), data);
    check(
        &aws(&s, home.path(), &["s3", "rm", "s3://cli/in/small.bin"]),
        "rm",
    );
    assert!(!s.server.path("cli/in/small.bin").exists());
}

/// Over HTTPS the AWS CLI uploads as aws-chunked bodies with a CRC
/// trailer (its default since 2025).
#[test]
fn the_aws_cli_over_https_uploads_aws_chunked_bodies_whole_and_in_parts() {
    if !have("aws", &["--version"], "pip install awscli") {
        return;
    }
    let s = S3Server::start_tls(&[("owner", &["read:/", "write:/", "delete:/"])]);
    let home = tempfile::tempdir().unwrap();
    let data = support::pattern(5 << 20, 3);
    std::fs::write(home.path().join("five.bin"), &data).unwrap();
    check(
        &aws_to(&s, "https", home.path(), &["s3", "mb", "s3://tls"]),
        "mb",
    );
    check(
        &aws_to(
            &s,
            "https",
            home.path(),
            &["s3", "cp", "five.bin", "s3://tls/five.bin"],
        ),
        "cp up",
    );
    assert_eq!(std::fs::read(s.server.path("tls/five.bin")).unwrap(), data);
    let put = check(
        &aws_to(
            &s,
            "https",
            home.path(),
            &[
                "s3api",
                "put-object",
                "--bucket",
                "tls",
                "--key",
                "sum.bin",
                "--body",
                "five.bin",
                "--checksum-algorithm",
                "SHA256",
            ],
        ),
        "s3api put-object",
    );
    assert!(put.contains("ChecksumSHA256"), "{put}");
    check(
        &aws_to(
            &s,
            "https",
            home.path(),
            &["s3", "cp", "s3://tls/sum.bin", "back.bin"],
        ),
        "cp down",
    );
    assert_eq!(std::fs::read(home.path().join("back.bin")).unwrap(), data);
    // Over 8 MiB in parts, each part an aws-chunked body of its own.
    let twenty = support::pattern(20 << 20, 4);
    std::fs::write(home.path().join("twenty.bin"), &twenty).unwrap();
    check(
        &aws_to(
            &s,
            "https",
            home.path(),
            &["s3", "cp", "twenty.bin", "s3://tls/twenty.bin"],
        ),
        "cp up in parts",
    );
    let stored = std::fs::read(s.server.path("tls/twenty.bin")).unwrap();
    assert!(stored == twenty, "the parts' payloads, not their framing");
}

/// restic (minio-go) signs every chunk of its uploads
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`): a repository made, 200 files
/// backed up, every byte read back by `check --read-data`, and restored
/// byte for byte.
#[test]
fn restic_backs_up_checks_and_restores_through_signed_chunks() {
    if !have("restic", &["version"], "apt-get install restic") {
        return;
    }
    let s = owner();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    for n in 0..200 {
        let dir = source.join(format!("d{}", n % 7));
        std::fs::create_dir_all(&dir).unwrap();
        let data = support::pattern(1000 + n * 997, n as u64);
        std::fs::write(dir.join(format!("f{n}.bin")), data).unwrap();
    }
    let restic = restic_for(&s, "restic", work.path());
    check(&restic(&["init"]), "restic init");
    assert!(s.server.path("restic/config").is_file());
    check(
        &restic(&["backup", source.to_str().unwrap()]),
        "restic backup",
    );
    check(
        &restic(&["check", "--read-data"]),
        "restic check --read-data",
    );
    let target = work.path().join("restored");
    check(
        &restic(&["restore", "latest", "--target", target.to_str().unwrap()]),
        "restic restore",
    );
    let restored = target.join(source.strip_prefix("/").unwrap());
    for n in 0..200 {
        let name = format!("d{}/f{n}.bin", n % 7);
        assert_eq!(
            std::fs::read(restored.join(&name)).unwrap(),
            std::fs::read(source.join(&name)).unwrap(),
            "{name}"
        );
    }
}

/// restic with the repository `bucket` on `s`'s S3 listener, signing
/// with the first holder's key, its home in `home`.
fn restic_for<'a>(
    s: &'a S3Server,
    bucket: &str,
    home: &'a Path,
) -> impl Fn(&[&str]) -> Output + 'a {
    let repo = format!("s3:http://{}/{bucket}", s.s3);
    move |args: &[&str]| {
        let signer = &s.signers[0];
        Command::new("restic")
            .args(["--repo", &repo, "--no-cache"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &signer.id)
            .env("AWS_SECRET_ACCESS_KEY", signer.secret())
            .env("RESTIC_PASSWORD", "test password")
            .env("HOME", home)
            .output()
            .unwrap()
    }
}

/// `restic init` on a fresh root with a key granted only `backups/`:
/// minio-go's MakeBucket (CreateBucket) makes `backups`, by the grant on
/// what it will hold; then a backup and `check --read-data`. Nothing but
/// `backups` is made, and a repository beside the grant is refused.
#[test]
fn restic_inits_a_bucket_its_key_is_granted_on_a_fresh_root() {
    if !have("restic", &["version"], "apt-get install restic") {
        return;
    }
    let grants: &[&str] = &["read:backups/", "write:backups/", "delete:backups/"];
    let s = S3Server::start(&[("host-7", grants)], &[]);
    let root = s.server.root.path();
    assert_eq!(support::names_under(root), Vec::<String>::new());
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    std::fs::create_dir(&source).unwrap();
    for n in 0..20 {
        let data = support::pattern(500 + n * 3001, n as u64);
        std::fs::write(source.join(format!("f{n}.bin")), data).unwrap();
    }
    let beside = restic_for(&s, "elsewhere", work.path())(&["init"]);
    let said = String::from_utf8_lossy(&beside.stderr);
    assert!(
        !beside.status.success() && said.contains("Access Denied"),
        "{said}"
    );
    assert_eq!(support::names_under(root), Vec::<String>::new());
    let restic = restic_for(&s, "backups", work.path());
    check(&restic(&["init"]), "restic init");
    assert!(s.server.path("backups/config").is_file());
    check(
        &restic(&["backup", source.to_str().unwrap()]),
        "restic backup",
    );
    check(
        &restic(&["check", "--read-data"]),
        "restic check --read-data",
    );
    let made = support::names_under(root);
    assert!(
        made.iter().all(|name| name.starts_with("backups/")),
        "{made:?}"
    );
    let snapshots = check(&restic(&["snapshots", "--json"]), "restic snapshots");
    let snapshots: Vec<serde_json::Value> = serde_json::from_str(&snapshots).unwrap();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
}

/// A tree of `count` small files with times on whole seconds (ferry keeps
/// a file's time to the second: docs/s3.md "Metadata and ETags"), and
/// the file `big` of `big_len` bytes.
fn tree(dir: &Path, count: usize, big_len: usize) {
    for i in 0..count {
        let path = dir.join(format!("sub{}/file-{i:02}.bin", i % 3));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, support::pattern(100 + i * 37, i as u64)).unwrap();
        set_mtime(&path, 1_600_000_000 + i as u64 * 61);
    }
    let big = dir.join("big.bin");
    std::fs::write(&big, support::pattern(big_len, 99)).unwrap();
    set_mtime(&big, 1_650_000_000);
}

fn set_mtime(path: &Path, seconds: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

fn mtime(path: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).unwrap().mtime()
}

#[test]
fn rclone_copies_checks_and_syncs_with_times_kept() {
    if !have("rclone", &["version"], "apt-get install rclone") {
        return;
    }
    let s = owner();
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 50, 30 << 20);
    // A time with a fraction: ferry keeps the file's to the second, but
    // answers x-amz-meta-mtime as rclone sent it, so no sync sets it again.
    let fraction = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_244, 500_000_000);
    let file = std::fs::File::options()
        .write(true)
        .open(src.path().join("sub1/file-04.bin"));
    file.unwrap().set_modified(fraction).unwrap();
    // The big file in parts, the rest whole.
    let cutoff = ["--s3-upload-cutoff", "8M", "--s3-chunk-size", "8M"];
    let source = src.path().to_str().unwrap();
    let mut copy = vec!["copy", source, "x:rcl/dst"];
    copy.extend(cutoff);
    check(&s.rclone(&copy), "rclone copy");
    let big = s.server.path("rcl/dst/big.bin");
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 30 << 20);
    assert_eq!(mtime(&big), 1_650_000_000, "x-amz-meta-mtime set the time");
    assert_eq!(
        mtime(&s.server.path("rcl/dst/sub1/file-01.bin")),
        1_600_000_061
    );
    // Sizes and MD5s (the listing's ETags), every file.
    check(&s.rclone(&["check", source, "x:rcl/dst"]), "rclone check");

    std::fs::remove_file(src.path().join("sub0/file-00.bin")).unwrap();
    let changed = src.path().join("sub2/file-02.bin");
    std::fs::write(&changed, b"changed").unwrap();
    set_mtime(&changed, 1_700_000_000);
    let mut sync = vec!["sync", source, "x:rcl/dst"];
    sync.extend(cutoff);
    check(&s.rclone(&sync), "rclone sync");
    assert!(!s.server.path("rcl/dst/sub0/file-00.bin").exists());
    let synced = s.server.path("rcl/dst/sub2/file-02.bin");
    assert_eq!(std::fs::read(&synced).unwrap(), b"changed");
    assert_eq!(mtime(&synced), 1_700_000_000);
    check(
        &s.rclone(&["check", source, "x:rcl/dst"]),
        "rclone check after sync",
    );
    // Nothing left to do: no file sent again, no time set again.
    let again = s.rclone(&["sync", "-v", source, "x:rcl/dst"]);
    let said = String::from_utf8_lossy(&again.stderr).into_owned();
    check(&again, "rclone sync again");
    assert!(!said.contains("Copied"), "{said}");
    assert!(!said.contains("Updated modification time"), "{said}");
}

/// rclone with a key limited to one bucket copies into it with no
/// `--s3-no-check-bucket`: its CreateBucket before the upload is answered
/// 200 (the bucket is there and the key may write in it), as us-east-1
/// answers it; it used to be 403, which ended the copy.
#[test]
fn rclone_copies_with_a_key_limited_to_one_bucket() {
    if !have("rclone", &["version"], "apt-get install rclone") {
        return;
    }
    let grants: &[&str] = &["read:scoped/", "write:scoped/", "delete:scoped/"];
    let s = S3Server::start(&[("scoped", grants)], &[]);
    std::fs::create_dir(s.server.path("scoped")).unwrap();
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 5, 1000);
    let source = src.path().to_str().unwrap();
    // --no-traverse: rclone lists nothing first, so it calls CreateBucket
    // (a listing that finds the bucket would spare that call).
    let copy = ["copy", "--no-traverse", source, "x:scoped/dst"];
    check(&s.rclone(&copy), "rclone copy");
    check(
        &s.rclone(&["check", source, "x:scoped/dst"]),
        "rclone check",
    );
    assert!(s.server.path("scoped/dst/big.bin").is_file());
}

/// `s3cmd -c <cfg> <args>` against the S3 listener, in `home`.
fn s3cmd(s: &S3Server, home: &Path, args: &[&str]) -> Output {
    let signer = &s.signers[0];
    let config = home.join("s3cfg");
    let text = format!(
        "[default]\naccess_key = {}\nsecret_key = {}\nhost_base = {addr}\nhost_bucket = {addr}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n",
        signer.id,
        signer.secret(),
        addr = s.s3
    );
    std::fs::write(&config, text).unwrap();
    Command::new("s3cmd")
        .arg("-c")
        .arg(&config)
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .output()
        .unwrap()
}

#[test]
fn s3cmd_makes_puts_lists_gets_deletes_and_syncs() {
    if !have("s3cmd", &["--version"], "pip install s3cmd") {
        return;
    }
    let s = owner();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let data = support::pattern(5000, 3);
    std::fs::write(h.join("one.bin"), &data).unwrap();
    check(&s3cmd(&s, h, &["mb", "s3://s3c"]), "mb");
    check(
        &s3cmd(&s, h, &["put", "one.bin", "s3://s3c/in/one.bin"]),
        "put",
    );
    assert_eq!(
        std::fs::read(s.server.path("s3c/in/one.bin")).unwrap(),
        data
    );
    let listed = check(&s3cmd(&s, h, &["ls", "s3://s3c/in/"]), "ls");
    assert!(listed.contains("s3://s3c/in/one.bin"), "{listed}");
    check(
        &s3cmd(&s, h, &["get", "s3://s3c/in/one.bin", "back.bin"]),
        "get",
    );
    assert_eq!(std::fs::read(h.join("back.bin")).unwrap(), data);
    check(&s3cmd(&s, h, &["del", "s3://s3c/in/one.bin"]), "del");
    assert!(!s.server.path("s3c/in/one.bin").exists());

    let tree_dir = h.join("tree");
    tree(&tree_dir, 12, 4096);
    let sync = ["sync", "--delete-removed", "tree/", "s3://s3c/tree/"];
    check(&s3cmd(&s, h, &sync), "sync");
    assert!(s.server.path("s3c/tree/sub2/file-11.bin").is_file());
    std::fs::remove_file(tree_dir.join("sub1/file-04.bin")).unwrap();
    let out = check(&s3cmd(&s, h, &sync), "sync again");
    assert!(
        !s.server.path("s3c/tree/sub1/file-04.bin").exists(),
        "{out}"
    );
    // Unchanged files are not sent again: the listing's ETags are MD5s.
    assert!(!out.contains("file-05.bin"), "{out}");
    check(
        &s3cmd(&s, h, &["del", "--recursive", "--force", "s3://s3c/tree/"]),
        "del -r",
    );
    assert!(!s.server.path("s3c/tree").exists());
}

/// `aws s3 cp` of `size` bytes up to `key` of bucket `bucket` and back,
/// byte for byte.
fn round_trip(s: &S3Server, home: &Path, (bucket, key): (&str, &str), size: usize) {
    let data = support::pattern(size, size as u64);
    std::fs::write(home.join("up.bin"), &data).unwrap();
    let target = format!("s3://{bucket}/{key}");
    check(&aws(s, home, &["s3", "cp", "up.bin", &target]), "cp up");
    let stored = std::fs::read(s.server.path(&format!("{bucket}/{key}"))).unwrap();
    assert!(stored == data, "{key}: the file is not what was sent");
    check(&aws(s, home, &["s3", "cp", &target, "back.bin"]), "cp down");
    assert!(std::fs::read(home.join("back.bin")).unwrap() == data);
}

#[test]
fn the_aws_cli_copies_5_and_20_mib_the_second_in_parts() {
    if !have("aws", &["--version"], "pip install awscli") {
        return;
    }
    let s = owner();
    let home = tempfile::tempdir().unwrap();
    check(&aws(&s, home.path(), &["s3", "mb", "s3://big"]), "mb");
    round_trip(&s, home.path(), ("big", "five.bin"), 5 << 20);
    // Over 8 MiB the CLI uploads in 8 MiB parts, several at once.
    round_trip(&s, home.path(), ("big", "dir/twenty.bin"), 20 << 20);
    // Nothing is left staged (but the sessions' bookkeeping lock and the
    // marks of completed uploads, kept a while for a completion sent again).
    let staged = support::entries(&s.server.path(".ferry-uploads"));
    let kept = |name: &String| name == "lock" || name.ends_with(".stored");
    assert!(staged.iter().all(kept), "{staged:?}");
}

#[test]
fn boto3_uploads_in_parts() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = owner();
    let work = tempfile::tempdir().unwrap();
    let output = s
        .boto3("s3_boto3_multipart.py", "http")
        .arg(work.path())
        .output()
        .unwrap();
    assert_eq!(check(&output, "boto3 multipart"), "ok\n");
    let stored = std::fs::metadata(s.server.path("parts/transfer.bin")).unwrap();
    assert_eq!(stored.len(), 17 * 1024 * 1024 + 5);
}

#[test]
fn the_aws_cli_syncs_both_ways_removes_recursively_and_reads_ranges() {
    if !have("aws", &["--version"], "pip install awscli") {
        return;
    }
    let s = owner();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let up = h.join("up");
    tree(&up, 20, 100_000);
    check(&aws(&s, h, &["s3", "mb", "s3://syn"]), "mb");
    check(&aws(&s, h, &["s3", "sync", "up", "s3://syn/t/"]), "sync up");
    assert!(s.server.path("syn/t/sub1/file-19.bin").is_file());
    std::fs::remove_file(up.join("sub0/file-00.bin")).unwrap();
    let out = check(
        &aws(&s, h, &["s3", "sync", "--delete", "up", "s3://syn/t/"]),
        "sync up --delete",
    );
    assert!(!s.server.path("syn/t/sub0/file-00.bin").exists(), "{out}");
    assert!(
        !out.contains("upload:"),
        "nothing changed was sent again: {out}"
    );

    // Down, with --delete removing a local file the bucket lacks.
    let down = h.join("down");
    std::fs::create_dir_all(&down).unwrap();
    std::fs::write(down.join("stray.txt"), b"not in the bucket").unwrap();
    check(
        &aws(&s, h, &["s3", "sync", "--delete", "s3://syn/t/", "down"]),
        "sync down --delete",
    );
    assert!(!down.join("stray.txt").exists());
    assert_eq!(
        std::fs::read(down.join("big.bin")).unwrap(),
        std::fs::read(up.join("big.bin")).unwrap()
    );

    let head = check(
        &aws(
            &s,
            h,
            &[
                "s3api",
                "head-object",
                "--bucket",
                "syn",
                "--key",
                "t/big.bin",
            ],
        ),
        "head-object",
    );
    assert!(head.contains("\"ContentLength\": 100000"), "{head}");
    let range = [
        "s3api",
        "get-object",
        "--bucket",
        "syn",
        "--key",
        "t/big.bin",
        "--range",
        "bytes=10-19",
        "part.bin",
    ];
    let got = check(&aws(&s, h, &range), "get-object --range");
    assert!(got.contains("bytes 10-19/100000"), "{got}");
    assert_eq!(
        std::fs::read(h.join("part.bin")).unwrap(),
        std::fs::read(up.join("big.bin")).unwrap()[10..20]
    );

    check(
        &aws(&s, h, &["s3", "rm", "--recursive", "s3://syn/t/"]),
        "rm --recursive",
    );
    assert!(!s.server.path("syn/t").exists());
    assert!(s.server.path("syn").is_dir());
}

/// boto3 with a 2 s read timeout and a completion held for 5 s (the slow
/// disk, made certain by a test gate): ferry's early `200` and its spaces
/// keep it reading, it gets the result; and where the commit fails after
/// the `200` went out (a folder took the key's name meanwhile), it raises
/// the `<Error>` that ends the body (botocore reads a 200 whose body is an
/// error as that error).
#[test]
fn boto3_waits_out_a_slow_completion_and_reads_an_error_in_its_200() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    for expected in ["stored", "XFerryKeyConflict"] {
        let gate = Arc::new(Gate::new(Point::Assemble));
        let held = Arc::clone(&gate);
        let s = S3Server::start_with(&[("owner", &["read:/", "write:/"])], &[], move |config| {
            config.gate = Some(held);
            config.early_answer = Duration::from_millis(500);
        });
        let child = s
            .boto3("s3_boto3_slow_completion.py", "http")
            .args(["2", expected])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        gate.wait_for_arrivals(1);
        if expected != "stored" {
            std::fs::create_dir_all(s.server.path("slow/k/in")).unwrap();
        }
        // The slow assembly itself: longer than boto3's read timeout.
        std::thread::sleep(Duration::from_secs(5));
        gate.open();
        let output = child.wait_with_output().unwrap();
        assert_eq!(check(&output, "boto3"), "ok\n", "{expected}");
    }
}

//! The S3 listener with the clients people use, as their users run them:
//! boto3 (`tests/clients/s3_boto3.py`: every operation of the first
//! slice, ranges, pagination, a key like `é&+"`, the errors it raises,
//! its checksums and presigned GET and PUT URLs; over HTTP, and over
//! HTTPS, where it streams aws-chunked bodies with a checksum trailer),
//! the AWS CLI (`mb`, `cp` of a 2 KiB file both ways, `ls`, `rm`; `cp`
//! over HTTPS, aws-chunked) and restic (minio-go: every chunk signed;
//! `init`, `backup` of 200 files, `check --read-data`, `restore`). Each
//! is skipped, saying so, where it is missing (`pip install boto3
//! awscli`, `apt-get install restic`); `.ci/run` installs them. What
//! waits for the next slices (docs/s3.md): `cp` over 8 MiB (multipart),
//! `sync`, rclone and s3cmd.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::s3::S3Server;

/// Whether `program` runs here with `args`; says why not if it cannot.
fn have(program: &str, args: &[&str], install: &str) -> bool {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("skipped: {program} {args:?} fails ({install})");
    }
    found
}

fn owner() -> S3Server {
    S3Server::start(&[("owner", &["read:/", "write:/", "delete:/"])], &[])
}

fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn boto3_does_every_operation_of_the_first_slice() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = owner();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/s3_boto3.py");
    boto3(&s, &script, None);
    // A key with quotes, spaces and a non-ASCII letter is a file as named.
    let odd = s.server.path("boto/dir/k é&+\"x.txt");
    assert_eq!(std::fs::read(odd).unwrap().len(), 2048);
    assert_eq!(
        std::fs::read(s.server.path("boto/presigned/é x.txt")).unwrap(),
        b"presigned"
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/s3_boto3.py");
    boto3(&s, &script, Some(&s.ca()));
    let streamed = std::fs::read(s.server.path("boto/sums/streamed")).unwrap();
    assert_eq!(streamed.len(), 251 * 20_000, "the payload, not its coding");
}

/// Runs the boto3 script against `s` (over HTTPS trusting `ca`).
fn boto3(s: &S3Server, script: &Path, ca: Option<&Path>) {
    let signer = &s.signers[0];
    let scheme = if ca.is_some() { "https" } else { "http" };
    let output = Command::new("python3")
        .arg(script)
        .arg(format!("{scheme}://{}", s.s3))
        .arg(&signer.id)
        .arg(signer.secret())
        .args(ca)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
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
fn the_aws_cli_over_https_uploads_aws_chunked_bodies() {
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
    let signer = &s.signers[0];
    let repo = format!("s3:http://{}/restic", s.s3);
    let restic = |args: &[&str]| {
        Command::new("restic")
            .args(["--repo", &repo, "--no-cache"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &signer.id)
            .env("AWS_SECRET_ACCESS_KEY", signer.secret())
            .env("RESTIC_PASSWORD", "test password")
            .env("HOME", work.path())
            .output()
            .unwrap()
    };
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

//! The S3 listener with the clients people use, as their users run them:
//! boto3 (`tests/clients/s3_boto3.py`: every operation of the first
//! slice, ranges, pagination, a key like `é&+"`, and the errors it
//! raises; `tests/clients/s3_boto3_multipart.py`: multipart uploads by
//! hand and by `upload_file`) and the AWS CLI (`mb`, `cp` of 2 KiB, 5 MiB
//! and 20 MiB, the last in parts, both ways, `ls`, `rm`). Each is
//! skipped, saying so, where it is missing (`pip install boto3 awscli`);
//! `.ci/run` installs both. What waits for the next slices (docs/s3.md):
//! HTTPS (aws-chunked bodies), `sync`, presigned URLs, rclone, restic and
//! s3cmd.

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
    let signer = &s.signers[0];
    let output = Command::new("python3")
        .arg(script)
        .arg(format!("http://{}", s.s3))
        .arg(&signer.id)
        .arg(signer.secret())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(check(&output, "boto3"), "ok\n");
    // A key with quotes, spaces and a non-ASCII letter is a file as named.
    let odd = s.server.path("boto/dir/k é&+\"x.txt");
    assert_eq!(std::fs::read(odd).unwrap().len(), 2048);
}

/// `aws --endpoint-url ... s3 <args>` as the token's holder, in `home`.
fn aws(s: &S3Server, home: &Path, args: &[&str]) -> Output {
    let signer = &s.signers[0];
    Command::new("aws")
        .arg("--endpoint-url")
        .arg(format!("http://{}", s.s3))
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
    // Nothing is left staged (but the sessions' bookkeeping lock).
    let staged = support::entries(&s.server.path(".ferry-uploads"));
    assert!(staged.iter().all(|name| name == "lock"), "{staged:?}");
}

#[test]
fn boto3_uploads_in_parts() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = owner();
    let work = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/s3_boto3_multipart.py");
    let signer = &s.signers[0];
    let output = Command::new("python3")
        .arg(script)
        .arg(format!("http://{}", s.s3))
        .arg(&signer.id)
        .arg(signer.secret())
        .arg(work.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(check(&output, "boto3 multipart"), "ok\n");
    let stored = std::fs::metadata(s.server.path("parts/transfer.bin")).unwrap();
    assert_eq!(stored.len(), 17 * 1024 * 1024 + 5);
}

//! The service files and the Debian package, as an operator gets them: the
//! unit passes `systemd-analyze verify`, and the `.deb` that `cargo deb`
//! builds holds the binary, the units, the default settings (a conffile)
//! and maintainer scripts that make the user and enable the service.
//!
//! Each test is skipped, saying so, where its tool is missing
//! (`systemd-analyze` from systemd, `cargo deb` from `cargo install
//! cargo-deb`, `dpkg-deb` from dpkg).

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `program` runs here; prints why the test is skipped if not.
fn available(program: &str, args: &[&str], test: &str) -> bool {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("skipped {test}: `{program}` is not installed");
    }
    found
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !available("systemd-analyze", &["--version"], "the unit check") {
        return;
    }
    // As installed, but starting the binary under test: verify checks that
    // ExecStart names an executable.
    let unit =
        std::fs::read_to_string(manifest_dir().join("deploy/systemd/ferry.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/ferry serve "), "{unit}");
    let unit = unit.replace("/usr/bin/ferry", env!("CARGO_BIN_EXE_ferry"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.service");
    std::fs::write(&path, unit).unwrap();
    let socket = std::fs::read_to_string(manifest_dir().join("deploy/ferry.socket")).unwrap();
    std::fs::write(dir.path().join("ferry.socket"), socket).unwrap();
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .arg(dir.path().join("ferry.socket"))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    // Without systemd running, verify cannot load the units this one is
    // ordered against (network-online.target): only those lines may come.
    let complaints: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("ferry.") && !line.contains("network-online.target"))
        .collect();
    assert!(complaints.is_empty(), "systemd-analyze verify:\n{said}");
}

#[test]
fn logrotate_moves_the_access_log_away_and_leaves_the_new_one_to_ferry() {
    if !available("logrotate", &["--version"], "the logrotate check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let config = std::fs::read_to_string(manifest_dir().join("deploy/logrotate/ferry")).unwrap();
    assert!(config.contains("/var/log/ferry/*.log {"), "{config}");
    let config = config.replace("/var/log/ferry", logs.to_str().unwrap());
    let path = dir.path().join("ferry.logrotate");
    std::fs::write(&path, config).unwrap();
    std::fs::write(logs.join("access.log"), "a line\n").unwrap();
    let output = Command::new("logrotate")
        .arg("--force")
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "logrotate:\n{said}");
    assert_eq!(
        std::fs::read_to_string(logs.join("access.log.1")).unwrap(),
        "a line\n"
    );
    // ferry makes the new file itself when SIGHUP reopens it
    // (tests/server/access_log.rs), with its own owner and mode.
    assert!(!logs.join("access.log").exists(), "nocreate");
}

/// Runs `cargo deb` on the release binary; the path of the package.
fn build_package(target: &Path) -> Option<PathBuf> {
    if !available("cargo", &["deb", "--version"], "the package check")
        || !available("dpkg-deb", &["--version"], "the package check")
    {
        return None;
    }
    let output = Command::new("cargo")
        .current_dir(manifest_dir())
        .args(["deb", "--output"])
        .arg(target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo deb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let package = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Some(PathBuf::from(package.lines().last().unwrap_or_default()))
}

/// `dpkg-deb <option> <package> <fields...>`'s output.
fn dpkg_deb(option: &str, package: &Path, fields: &[&str]) -> String {
    let output = Command::new("dpkg-deb")
        .arg(option)
        .arg(package)
        .args(fields)
        .output()
        .unwrap();
    assert!(output.status.success(), "dpkg-deb {option} {fields:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_debian_package_holds_the_service_and_its_settings() {
    // Building the release binary takes a minute: asked for, not by default.
    if std::env::var_os("FERRY_PACKAGE_TEST").is_none() {
        eprintln!(
            "skipped the package check: run `FERRY_PACKAGE_TEST=1 cargo test --test server package::` (needs `cargo install cargo-deb`)"
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let Some(package) = build_package(out.path()) else {
        return;
    };
    let listing = dpkg_deb("--contents", &package, &[]);
    for path in [
        "./usr/bin/ferry",
        "./usr/lib/systemd/system/ferry.service",
        "./usr/share/doc/ferry/examples/ferry.socket",
        "./etc/default/ferry",
        "./etc/logrotate.d/ferry",
        "./usr/share/doc/ferry/README.md",
        "./usr/share/doc/ferry/PROTOCOL.md",
        "./usr/share/doc/ferry/docs/cli.md",
    ] {
        assert!(listing.contains(path), "{path} missing from:\n{listing}");
    }
    assert_eq!(dpkg_deb("--field", &package, &["Package"]).trim(), "ferry");
    assert!(dpkg_deb("--field", &package, &["Depends"]).contains("adduser"));

    // Unpacked into a scratch root: the binary runs, the unit and the
    // settings are the ones in deploy/, the scripts make the user and
    // enable the service.
    let scratch = tempfile::tempdir().unwrap();
    let unpacked = Command::new("dpkg-deb")
        .arg("--raw-extract")
        .arg(&package)
        .arg(scratch.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let root = scratch.path();
    let version = Command::new(root.join("usr/bin/ferry"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ferry "));
    let same = |installed: &str, source: &str| {
        assert_eq!(
            std::fs::read_to_string(root.join(installed)).unwrap(),
            std::fs::read_to_string(manifest_dir().join(source)).unwrap(),
            "{installed}"
        );
    };
    same(
        "usr/lib/systemd/system/ferry.service",
        "deploy/systemd/ferry.service",
    );
    same("etc/default/ferry", "deploy/debian/default");
    same("etc/logrotate.d/ferry", "deploy/logrotate/ferry");
    let control = root.join("DEBIAN");
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(
        conffiles.lines().any(|l| l == "/etc/default/ferry"),
        "{conffiles}"
    );
    assert!(
        conffiles.lines().any(|l| l == "/etc/logrotate.d/ferry"),
        "{conffiles}"
    );
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    assert!(
        postinst.contains("ferry.service"),
        "enables the unit:\n{postinst}"
    );
    assert!(!postinst.contains("#DEBHELPER#"), "{postinst}");
    // Socket activation is opted into: an enabled socket would hold the
    // port whatever --listen says.
    assert!(!postinst.contains("ferry.socket"), "{postinst}");
}

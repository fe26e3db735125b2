//! The nodes of one root serve it by the same rules: a server whose
//! tokens, anonymous grants, quotas or reserve differ from a live node's
//! refuses to start, naming the rule and the node, and binds no port; with
//! the same rules it joins; once the other nodes are gone, the next start
//! sets the rules anew (src/node_rules.rs).

use crate::one_server_per_root::serve_to_the_end;
use crate::support;

use support::process::Process;
use support::tokens::tokens_in;

#[test]
fn a_node_with_other_rules_than_a_live_one_refuses_to_start() {
    let root = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let (tokens, _) = tokens_in(secrets.path(), &[("cam", &["write:cams/"])]);
    let tokens = tokens.to_str().unwrap();
    let rules = ["--tokens", tokens, "--quota", "cams/=1M", "--min-free", "0"];
    let first = Process::start(root.path(), &[&["--node-id", "n1"], &rules[..]].concat());

    // Each of these differs from node n1 in one rule: the refusal names it.
    let others: [(&[&str], &str); 4] = [
        (&["--quota", "cams/=1M", "--min-free", "0"], "tokens = on"),
        (
            &["--tokens", tokens, "--min-free", "0"],
            "quota = cams/=1048576",
        ),
        (
            &[
                "--tokens",
                tokens,
                "--quota",
                "cams/=1M",
                "--min-free",
                "5%",
            ],
            "min-free = 0",
        ),
        (
            &[&rules[..], &["--anonymous", "write:drop/"]].concat(),
            "anonymous = none",
        ),
    ];
    for (args, named) in others {
        let args = [&["--listen", "127.0.0.1:0", "--node-id", "n2"], args].concat();
        let (code, stderr) = serve_to_the_end(&args, root.path());
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        let expected =
            format!("node \"n1\" serves this root with {named}, this server would serve it with");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
        assert!(
            stderr.contains("stop every node to change them"),
            "{stderr}"
        );
    }

    // The same rules (other addresses and caps are a node's own): it joins.
    let joined = Process::start(
        root.path(),
        &[&["--node-id", "n2", "--max-connections", "99"], &rules[..]].concat(),
    );
    let mut anonymous = ferry::Client::connect(joined.addr).unwrap();
    assert!(anonymous.put_bytes("cams/x", b"no token").is_err());
    drop((first, joined));
}

#[test]
fn with_every_other_node_gone_a_start_sets_the_rules_anew() {
    let root = tempfile::tempdir().unwrap();
    let mut first = Process::start(root.path(), &["--node-id", "n1", "--min-free", "0"]);
    first.signal(rustix::process::Signal::KILL);
    first.wait();
    // n1 is gone (killed): its rules bind no one.
    let second = Process::start(root.path(), &["--node-id", "n2", "--min-free", "7M"]);
    let (code, stderr) = serve_to_the_end(
        &[
            "--listen",
            "127.0.0.1:0",
            "--node-id",
            "n1",
            "--min-free",
            "0",
        ],
        root.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("node \"n2\" serves this root with min-free = 7340032, this server would serve it with min-free = 0"),
        "{stderr}"
    );
    drop(second);
}

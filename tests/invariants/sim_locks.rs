//! A WebDAV lock granted between a write's admission and its change,
//! without sockets or threads (`sim_conn.rs`): the write is admitted (the
//! lock rule judged, nothing locked yet), its job held; another client
//! LOCKs what it would change and is answered; then the write's job runs.
//! It must be refused (`423`) and change nothing: the lock rule is judged
//! again where the change is made, with the lock table held still
//! (`serve/ops/at_change.rs`). Before, every write but an upload's
//! commit went on with its admission's judgement: a DELETE took the file
//! a LOCK had just been granted on, and its lock with it.
//!
//! The memory store's table is always current, so its admission is
//! judged at once and the hold between is the test's; on a POSIX root the
//! admission may be judged on the pool too (a table read less than a
//! second ago is not trusted), and the answer must be the same (but a
//! folder's DELETE, then refused whole, where the memory store's keeps
//! the locked member and removes the rest: here, nothing).
#![cfg(all(feature = "webdav", feature = "tus"))] // the simulation's (simulation.rs)

use ferry::Config;
use ferry::config::PoolWrites;
use ferry::model::Occupant;
use ferry::name::Name;
use ferry::storage::memory::MemoryStore;
use ferry::wire::Protocol;

use super::sim_conn::{SimConn, World, files_of};
use super::sim_server::Server;

const HOST: &str = "Host: localhost\r\n";

/// A write, the name a LOCK taken meanwhile guards against it, a name
/// whose PUT the lock refuses after, and what the write is answered: its
/// refusal, or where it walks a folder, the member the lock kept told
/// in a `207`.
struct Race {
    write: String,
    locked: &'static str,
    guarded: &'static str,
    answered: u16,
}

fn races() -> Vec<Race> {
    let race = |write: String, locked| Race {
        write,
        locked,
        guarded: locked,
        answered: 423,
    };
    let moved = |from: &str, to: &str| {
        format!("MOVE {from} HTTP/1.1\r\n{HOST}Destination: {to}\r\nContent-Length: 0\r\n\r\n")
    };
    let patch = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:k>v</Z:k></D:prop></D:set></D:propertyupdate>"#;
    vec![
        race(bare("DELETE", "/d/f"), "/d/f"),
        // The file, or the free name it would take (a reservation).
        race(moved("/d/f", "/d/g"), "/d/f"),
        race(moved("/d/f", "/e/g"), "/e/g"),
        // A folder's lock guards its members (RFC 4918 7.4).
        race(moved("/d/", "/m/"), "/d/f"),
        Race {
            answered: 207,
            ..race(bare("DELETE", "/d/"), "/d/f")
        },
        Race {
            guarded: "/e/new",
            ..race(bare("MKCOL", "/e/new"), "/e")
        },
        race(
            format!(
                "PROPPATCH /d/f HTTP/1.1\r\n{HOST}Content-Length: {}\r\n\r\n{patch}",
                patch.len()
            ),
            "/d/f",
        ),
    ]
}

fn bare(method: &str, target: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\n{HOST}Content-Length: 0\r\n\r\n")
}

fn lock_request(target: &str) -> String {
    let body = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
    format!(
        "LOCK {target} HTTP/1.1\r\n{HOST}Timeout: Second-600\r\nDepth: 0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_lock_granted_between_a_writes_admission_and_its_change_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        pool_writes: PoolWrites::Never,
        fsync: false,
        ..Config::default()
    };
    for race in races() {
        let memory = MemoryStore::new();
        let server = Server::memory(&memory, &config, dir.path());
        run(&server, &race, "memory");
        let root = tempfile::tempdir().unwrap();
        let server = Server::posix(root.path(), &config);
        run(&server, &race, "posix");
    }
}

/// The race on `server`: the write admitted, the LOCK answered, then the
/// write's jobs run.
fn run(server: &Server<'_>, race: &Race, engine: &str) {
    let world = server.world();
    let store = server.store();
    let mut writer = SimConn::new(1, Protocol::Http);
    for stock in [
        bare("MKCOL", "/d"),
        bare("MKCOL", "/e"),
        put("/d/f", "kept"),
    ] {
        writer.input.extend_from_slice(stock.as_bytes());
        let made = answer(&mut writer, &world);
        assert_eq!(status(&made), 201, "{engine}: {stock}: {made}");
    }
    let before = files_of(store);
    let write = race.write.lines().next().unwrap_or_default();
    writer.input.extend_from_slice(race.write.as_bytes());
    writer.advance(&world);
    assert!(
        writer.is_waiting(),
        "{engine}: {write} admitted, its job held"
    );
    let held = writer.take_job().unwrap();

    let mut locker = SimConn::new(2, Protocol::Http);
    locker
        .input
        .extend_from_slice(lock_request(race.locked).as_bytes());
    let locked = answer(&mut locker, &world);
    assert!(
        [200, 201].contains(&status(&locked)),
        "{engine}: the LOCK of {} is granted while {write} waits: {locked}",
        race.locked
    );

    writer.run(held, &world);
    let answered = answer(&mut writer, &world);
    // On a POSIX root the admission may have been judged after the LOCK:
    // a walk is then refused whole.
    let whole = engine == "posix" && status(&answered) == 423;
    if !whole {
        assert_eq!(
            status(&answered),
            race.answered,
            "{engine}: {write}: {answered}"
        );
    }
    if race.answered == 207 {
        assert!(answered.contains("423"), "{engine}: {write}: {answered}");
    }
    assert_eq!(files_of(store), before, "{engine}: {write} changed nothing");
    let folders = ["d", "e"].map(|folder| store.occupant(&Name::new(folder.into()).unwrap()));
    assert!(
        folders
            .iter()
            .all(|found| matches!(found, Ok(Occupant::Folder))),
        "{engine}: {write} moved no folder: {folders:?}"
    );
    // Its lock stands: a write without its token is refused.
    locker
        .input
        .extend_from_slice(put(race.guarded, "other").as_bytes());
    let after = answer(&mut locker, &world);
    assert_eq!(status(&after), 423, "{engine}: after {write}: {after}");
}

fn put(target: &str, body: &str) -> String {
    let length = body.len();
    format!("PUT {target} HTTP/1.1\r\n{HOST}Content-Length: {length}\r\n\r\n{body}")
}

/// Runs `conn`'s jobs as they come, as the I/O pool would, until it waits
/// for nothing; what it answered.
fn answer(conn: &mut SimConn, world: &World<'_>) -> String {
    conn.advance(world);
    while let Some(job) = conn.take_job() {
        conn.run(job, world);
    }
    let answered = String::from_utf8_lossy(&conn.output).into_owned();
    conn.output.clear();
    answered
}

/// An HTTP answer's status.
fn status(answer: &str) -> u16 {
    let code = answer.split(' ').nth(1).unwrap_or_default();
    code.parse().unwrap_or_default()
}

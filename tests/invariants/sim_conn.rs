//! A connection without a socket, for the simulation (`simulation.rs`):
//! the bytes a client sends go through the server's own codec
//! (`ferry::connection::Codec`) into the serve layer, whose outcomes it
//! follows as the reactor's connection does (`connection/advance.rs`): a
//! reply encoded for the client, a body fed to its receive, a job handed
//! to the scheduler instead of the I/O pool. Nothing here runs on its
//! own: the simulation decides when bytes arrive and when a job runs.
//!
//! Bodies going out (GET's) are not read: the client judges the answer's
//! head, and the simulation reads the store ([`files_of`]).
#![cfg(all(feature = "webdav", feature = "tus"))] // the simulation's (simulation.rs)

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ferry::access::{Access, Principal};
use ferry::connection::codec::Codec;
use ferry::http::origin::Site;
use ferry::name::{Name, Prefix};
use ferry::serve::decoded::Decoded;
use ferry::serve::{self, Ctx, Guard, Job, Next, Outcome, Receive, Sender, Served};
use ferry::storage::{Open, Store};
use ferry::wire::Protocol;

/// What the server side holds of the world while it serves: what the
/// serve layer is lent, and the access control.
pub struct World<'a> {
    pub served: Served<'a>,
    pub access: &'a std::sync::Arc<Access>,
}

/// Where the connection stands.
enum State {
    /// Waiting for a request's head.
    Idle,
    /// A body arriving into its receive.
    Receiving(Box<Receive>),
    /// A body to skip, this many bytes of it.
    Draining(u64),
    /// Waiting for its job (which the scheduler holds).
    Waiting,
    /// Closed.
    Done,
}

/// One simulated connection.
pub struct SimConn {
    pub id: u64,
    codec: Codec,
    held: Option<Arc<Principal>>,
    /// What the client sent that the server has not taken yet.
    pub input: Vec<u8>,
    /// What the server said, not yet read by the client.
    pub output: Vec<u8>,
    state: State,
    /// A job for the scheduler, handed over once.
    job: Option<Job>,
}

impl SimConn {
    pub fn new(id: u64, protocol: Protocol) -> SimConn {
        SimConn {
            id,
            codec: Codec::new(protocol, None, Default::default()),
            held: None,
            input: Vec::new(),
            output: Vec::new(),
            state: State::Idle,
            job: None,
        }
    }

    fn ctx<'a>(&self, world: &World<'a>) -> Ctx<'a> {
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Ctx::of(world.served, (self.id, peer), self.codec.protocol())
    }

    /// Whether it is closed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether it waits for its client's next request.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && self.input.is_empty()
    }

    /// Whether a request's body is arriving into its receive (an
    /// upload begun, not whole yet).
    pub fn is_receiving(&self) -> bool {
        matches!(self.state, State::Receiving(_))
    }

    /// Whether it waits for its job.
    pub fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting)
    }

    /// The job it waits for, if it has one the scheduler has not taken.
    pub fn take_job(&mut self) -> Option<Job> {
        self.job.take()
    }

    /// Takes what it can of its input, as the reactor's turn would:
    /// until neither its input nor its state moves.
    pub fn advance(&mut self, world: &World<'_>) {
        loop {
            let before = (self.input.len(), self.kind());
            let state = std::mem::replace(&mut self.state, State::Done);
            self.state = self.step(state, world);
            if (self.input.len(), self.kind()) == before {
                break;
            }
        }
    }

    /// Which state it is in, for [`SimConn::advance`] to tell a move.
    fn kind(&self) -> u8 {
        match self.state {
            State::Idle => 0,
            State::Receiving(_) => 1,
            State::Draining(_) => 2,
            State::Waiting => 3,
            State::Done => 4,
        }
    }

    fn step(&mut self, state: State, world: &World<'_>) -> State {
        match state {
            State::Idle => self.next_request(world),
            State::Receiving(receive) => {
                let sender = Sender {
                    client: self.id,
                    peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    access: world.access,
                };
                let (used, fed) = receive.feed(&self.input, world.served.config, sender);
                self.input.drain(..used);
                match fed {
                    Ok(receive) => self.enter(Next::Receive(receive), world),
                    Err(ended) => self.apply(ended, world),
                }
            }
            State::Draining(left) => {
                let take = (left.min(self.input.len() as u64)) as usize;
                self.input.drain(..take);
                match left - take as u64 {
                    0 => State::Idle,
                    left => State::Draining(left),
                }
            }
            other => other,
        }
    }

    fn next_request(&mut self, world: &World<'_>) -> State {
        let site = Site {
            web: &world.served.config.web,
            access_on: world.access.is_on(),
            tls: false,
        };
        match self.codec.decode(&self.input, site, 1 << 30) {
            Decoded::Incomplete | Decoded::GoAhead => State::Idle,
            Decoded::Request(request, used) => {
                self.input.drain(..used);
                let ctx = self.ctx(world);
                let mut guard = Guard {
                    access: world.access,
                    held: &mut self.held,
                    user: None,
                };
                let outcome = serve::serve(request, &ctx, &mut guard);
                self.apply(outcome, world)
            }
            Decoded::Refused(refusal) => {
                self.codec.refuse(&refusal, false, &mut self.output);
                match refusal.skip {
                    Some((used, body)) => {
                        self.input.drain(..used);
                        self.enter(serve::skip_body(body, world.served.config), world)
                    }
                    None => State::Done,
                }
            }
            Decoded::Answered(used) => {
                self.input.drain(..used);
                self.codec.answered(&mut self.output);
                State::Idle
            }
            Decoded::Link(..) => panic!("the simulation speaks no FTP"),
        }
    }

    /// The reply said, and the state it leads to.
    fn apply(&mut self, outcome: Outcome, world: &World<'_>) -> State {
        let Outcome { reply, next, .. } = outcome;
        let last = matches!(next, Next::Close);
        self.codec.encode(&reply, last, &mut self.output);
        self.enter(next, world)
    }

    fn enter(&mut self, next: Next, world: &World<'_>) -> State {
        match next {
            // A listing's or a 207's body, held in memory: the client
            // reads the head.
            Next::Request | Next::Held(_) => State::Idle,
            Next::Send(_) | Next::Cut { .. } => panic!("the simulation reads no file"),
            Next::Receive(mut receive) => match receive.take_failure() {
                Some(err) => self.apply(serve::write_failed(receive, err, self.id), world),
                None if receive.is_complete() && !receive.is_writing() => {
                    let outcome = serve::finish_receive(receive, self.id);
                    self.apply(outcome, world)
                }
                None => State::Receiving(receive),
            },
            Next::Pool(job) => {
                self.job = Some(job);
                State::Waiting
            }
            Next::Drain { left } => State::Draining(left),
            Next::Echo { .. } | Next::Wrote(_) => panic!("not asked by the simulation"),
            Next::Close => State::Done,
        }
    }

    /// Its job ran (on the scheduler's word), with `outcome`.
    pub fn job_finished(&mut self, outcome: Outcome, world: &World<'_>) {
        assert!(
            matches!(self.state, State::Waiting),
            "a job finished unasked"
        );
        self.state = self.apply(outcome, world);
        self.advance(world);
    }

    /// Runs `job` for this connection, as the I/O pool would.
    pub fn run(&mut self, job: Job, world: &World<'_>) {
        let outcome = job.run(&self.ctx(world));
        self.job_finished(outcome, world);
    }
}

/// Every file of `store`, with its bytes.
pub fn files_of(store: &dyn Store) -> BTreeMap<String, Vec<u8>> {
    let mut names = Vec::new();
    let everything = Prefix::decode(b"").unwrap();
    store
        .list(
            &everything,
            &mut |_| true,
            &mut |_, _| Ok(true),
            &mut |entry| {
                names.push(entry.name.clone());
                Ok(())
            },
        )
        .unwrap();
    let mut files = BTreeMap::new();
    for name in names {
        let opened = store.open(&Name::decode(name.as_bytes()).unwrap(), Open::Read);
        let opened = opened.unwrap().unwrap();
        let mut bytes = vec![0; opened.version.info.size as usize];
        opened.body.read_exact_at(&mut bytes, 0).unwrap();
        files.insert(name, bytes);
    }
    files
}

//! Arbitrary bytes into the HTTP listener's exchange: the message layer
//! and every dialect it serves (ferry's files, tus), with access control
//! off and on, CORS off and on (`Origin: http://a.b` is allowed). No
//! panic; what a request uses, or a refusal skips, lies within the input;
//! and the error answer each dialect writes for it is an HTTP response,
//! its head whole.

#![no_main]

use ferry::config::WebConfig;
use ferry::http::codec::Exchange;
use ferry::http::origin::Site;
use ferry::serve::decoded::Decoded;
use ferry::serve::{ErrorKind, Failure, Reply};
use ferry::wire::Protocol;
use libfuzzer_sys::fuzz_target;

/// The room a reactor gives a request's body in hand: ample, so that the
/// heads, not the cap, are what is fuzzed.
const ROOM: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let open = WebConfig::default();
    let cors = WebConfig {
        cors_origins: vec!["http://a.b".into()],
        ..WebConfig::default()
    };
    for (access_on, web) in [(false, &open), (true, &open), (false, &cors)] {
        let mut exchange = Exchange::new(Protocol::Http);
        let site = Site {
            web,
            access_on,
            tls: false,
        };
        match exchange.decode(data, site, ROOM) {
            Decoded::Incomplete | Decoded::GoAhead => {}
            Decoded::Request(_, used) | Decoded::Answered(used) | Decoded::Link(_, used) => {
                assert!(used <= data.len())
            }
            Decoded::Refused(refusal) => {
                if let Some((used, _)) = refusal.skip {
                    assert!(used <= data.len());
                }
            }
        }
        let mut out = Vec::new();
        let failed = Reply::Failed(Failure::new(ErrorKind::NotFound, "gone"));
        exchange.encode(&failed, false, &mut out);
        assert!(
            out.starts_with(b"HTTP/1.1 404 "),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(
            out.windows(4).any(|w| w == b"\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
});

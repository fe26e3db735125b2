//! The web interface over real sockets, as the page is served (no browser:
//! that is `tests/browser/`):
//!
//! - `page`: what the page offers for the client's rights, and refusals
//!   as pages; `big_folder`: a big folder's names as data, `?plain`;
//! - `origin`: user files never run as the interface; `cors`: the pages
//!   of other origins the operator allows (and one in Chromium);
//! - `folders`: a folder's DELETE and MOVE as the page sends them;
//!   `search`: `?q=`;
//! - `archives`: `?zip` and `?tar` as people fetch them; `ui`: the page's
//!   style and script, `.tar` downloads parsed member by member.
//!
//! One module alone: `cargo test --test web archives::`.

#[path = "../support/mod.rs"]
mod support;
#[allow(dead_code)] // cors uses a part of it; tests/browser/ all of it
#[path = "../support/webdriver.rs"]
mod webdriver;

mod archives;
mod big_folder;
mod cors;
mod folders;
mod origin;
mod page;
mod search;
mod ui;

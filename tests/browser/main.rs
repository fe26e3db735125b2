//! The web interface in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, on 127.0.0.1 only). Each test is skipped,
//! saying so, where Chromium or chromedriver is missing (`apt-get install
//! chromium chromium-driver`; `FERRY_CHROMIUM` and `FERRY_CHROMEDRIVER`
//! name other binaries).
//!
//! - `actions`: upload, list, download, rename, folder upload, sort and
//!   delete through the page; refusals shown; uploads the page finishes
//!   after a restart or a reload; planted files run nothing;
//! - `page`: what the page offers for the server's answers, screenshots;
//! - `folders`: a folder renamed and deleted, the search box;
//! - `big_folder`: a big folder's rows built from data;
//! - `share`: the QR code and the multi-select download;
//! - `links`: a share link made on the page, opened in a fresh browser
//!   without a token (its folder's page, the .zip, an upload link's drop
//!   zone);
//! - `previews`: a preview of each kind, labels, focus order, contrast;
//! - `rows`: each row's actions per the rights (a menu on a phone), the
//!   keyboard, type icons, the one search field, no sideways scroll on a
//!   phone, the read-only note;
//! - `queue`: files dropped anywhere on the page (the overlay), the
//!   upload queue's pause, resume and cancel (no staged bytes left);
//! - `grid`: the list/grid toggle, thumbnails of images, remembered;
//! - `dufs`: the same folder in ferry and in dufs, screenshots for
//!   docs/http.md (skipped where dufs is not installed).
//!
//! `cargo test --test browser -- --nocapture` shows what was skipped.

#[path = "../support/mod.rs"]
mod support;
#[allow(dead_code)] // without `web`, big_folder alone uses a part of it
#[path = "../support/webdriver.rs"]
mod webdriver;

mod actions;
mod big_folder;
mod dufs;
mod folders;
mod grid;
mod links;
mod page;
mod previews;
mod queue;
mod rows;
mod share;

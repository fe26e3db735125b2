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
//! - `previews`: a preview of each kind, labels, focus order, contrast;
//! - `rows`: each row's actions per the rights (a menu on a phone), the
//!   keyboard, type icons, the one search field, no sideways scroll on a
//!   phone, the read-only note.
//!
//! `cargo test --test browser -- --nocapture` shows what was skipped.

#[path = "../support/mod.rs"]
mod support;
#[allow(dead_code)] // without `web`, big_folder alone uses a part of it
#[path = "../support/webdriver.rs"]
mod webdriver;

mod actions;
mod big_folder;
mod folders;
mod page;
mod previews;
mod rows;
mod share;

//! The web interface's style and script as written in `ui/`, embedded
//! in the binary (feature `web`); `page.rs` compacts them into every
//! listing and names them in its policy. A build without the feature
//! has none (`absent.rs`): a browser gets the listing's plain table.

/// The page's style, embedded (the page loads nothing from elsewhere),
/// as written in `ui/`.
pub const STYLE_SOURCE: &str = concat!(
    include_str!("ui/page.css"),
    include_str!("ui/preview.css"),
    include_str!("ui/qr.css")
);
/// The page's script, embedded: `ui/page.js` (the listing, type icons,
/// each row's actions and keys, uploads, a file's rename and delete),
/// `ui/queue.js` (the upload queue: pickers, the drop overlay, pause,
/// resume, cancel), `ui/grid.js` (the list/grid toggle, thumbnails),
/// `ui/folders.js` (a folder's rename, move and delete), `ui/search.js`
/// (Enter in the one field: the search of the folder's tree),
/// `ui/preview.js` (previews), `ui/qr.js` (the share dialog's QR code),
/// and with the `shares` feature `ui/links.js` (a row's share link made,
/// the token's links listed and revoked), one script so that one hash in
/// the policy allows it.
macro_rules! script {
    ($($more:literal),*) => {
        concat!(
            include_str!("ui/page.js"),
            include_str!("ui/queue.js"),
            include_str!("ui/grid.js"),
            include_str!("ui/folders.js"),
            include_str!("ui/search.js"),
            include_str!("ui/preview.js"),
            include_str!("ui/qr.js"),
            $(include_str!($more)),*
        )
    };
}

/// See [`script!`].
#[cfg(feature = "shares")]
pub const SCRIPT_SOURCE: &str = script!("ui/links.js");
/// See [`script!`].
#[cfg(not(feature = "shares"))]
pub const SCRIPT_SOURCE: &str = script!();

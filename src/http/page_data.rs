//! A big folder's entries as the web page carries them (`page.rs`): each
//! name once, as data the page's script builds the rows from, so that a
//! folder of 5,000 files weighs what its names do and not twice that
//! (a row that works without JavaScript names a file twice: its link's
//! address and text). Browsers without script follow the page's
//! `<noscript>` link to the plain listing (`?plain`, rows only).
//!
//! One JSON object in a `<script type="application/json" id="entries">`
//! block, column by column (numbers beside numbers compress better than
//! rows of mixed fields, `benches/page.sh`):
//!
//! ```text
//! {"n":["report-1.txt","2.txt","sub/"],   names, front-coded: each
//!  "p":[0,7,0],                             keeps p[i] UTF-16 units of
//!                                           the one before, then n[i]
//!  "s":[12,0,0],                            sizes (0 for a folder)
//!  "t":[1764037275,1764037275,1764037275],  modification times, Unix s
//!  "m":{"2":"write"}}                       a folder's own rights where
//!                                           they differ (data-may words)
//! ```
//!
//! Names are the folder's own (without its prefix); a folder's ends in
//! `/`. Front coding takes the names' shared beginnings out (sorted names
//! share most of theirs): 27.6 KiB of bench names gzip to 16.3. It counts
//! in UTF-16 units, as the script's `slice` does, and only whole
//! characters. `<` is written `\u003c`, so no name can end the block.

use std::fmt::Write;

use crate::serve::Rights;

/// The entries written so far: names as they come, the number columns
/// held until the end (a few bytes an entry; the folder's listing is in
/// memory whole anyway).
#[derive(Debug, Default)]
pub struct Entries {
    previous: String,
    count: usize,
    shared: String,
    sizes: String,
    times: String,
    may: String,
}

impl Entries {
    /// The block's opening, up to the first name.
    pub const OPEN: &'static str = "<script type=\"application/json\" id=\"entries\">{\"n\":[";

    /// Appends the entry `own` (a folder's ending in `/`) to `out`, its
    /// size, time and, where they differ from the folder's, `rights`
    /// (`may` words) to the columns.
    pub fn put(
        &mut self,
        own: &str,
        size: u64,
        mtime: i64,
        rights: Option<&str>,
        out: &mut String,
    ) {
        let comma = if self.count == 0 { "" } else { "," };
        let (keep, units) = shared_start(&self.previous, own);
        out.push_str(comma);
        out.push_str(&crate::formats::json::string(&own[keep..]).replace('<', "\\u003c"));
        let _ = write!(self.shared, "{comma}{units}");
        let _ = write!(self.sizes, "{comma}{size}");
        let _ = write!(self.times, "{comma}{mtime}");
        if let Some(words) = rights {
            let sep = if self.may.is_empty() { "" } else { "," };
            let _ = write!(self.may, "{sep}\"{}\":\"{words}\"", self.count);
        }
        self.previous.clear();
        self.previous.push_str(own);
        self.count += 1;
    }

    /// The columns and the block's end.
    pub fn close(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "],\"p\":[{}],\"s\":[{}],\"t\":[{}],\"m\":{{{}}}}}</script>",
            self.shared, self.sizes, self.times, self.may
        );
    }
}

/// How much of `name`'s beginning `previous` shares: in bytes (to cut
/// `name` at) and in UTF-16 units (what the script counts), whole
/// characters only.
fn shared_start(previous: &str, name: &str) -> (usize, usize) {
    let (mut bytes, mut units) = (0, 0);
    for (a, b) in previous.chars().zip(name.chars()) {
        if a != b {
            break;
        }
        bytes += a.len_utf8();
        units += a.len_utf16();
    }
    (bytes, units)
}

/// `rights` as the page's `data-may` words (`page.rs`), given here so
/// the two cannot drift.
pub fn may_words(rights: Rights) -> &'static str {
    match (rights.write, rights.delete) {
        (true, true) => "write delete",
        (true, false) => "write",
        (false, true) => "delete",
        (false, false) => "",
    }
}

/// What a folder's row offers (writes in it, its own removal and
/// rename) as `data-may` words, where that differs from what `listed`,
/// the listed folder's rights, offer every row.
pub fn row_words(row: Rights, listed: Rights) -> Option<&'static str> {
    let own = may_words(Rights {
        delete: row.remove,
        ..row
    });
    (own != may_words(listed)).then_some(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_front_coded_in_utf16_units() {
        let mut entries = Entries::default();
        let mut out = String::from(Entries::OPEN);
        entries.put("sub/", 0, 5, Some("write"), &mut out);
        entries.put("report-1.txt", 12, 7, None, &mut out);
        entries.put("report-2.txt", 3, 7, None, &mut out);
        entries.put("é𝄞a</script>", 1, 8, None, &mut out);
        entries.put("é𝄞b", 1, 8, None, &mut out);
        entries.close(&mut out);
        assert_eq!(
            out,
            "<script type=\"application/json\" id=\"entries\">{\"n\":[\"sub/\",\"report-1.txt\",\"2.txt\",\"é𝄞a\\u003c/script>\",\"b\"],\
\"p\":[0,0,7,0,3],\"s\":[0,12,3,1,1],\"t\":[5,7,7,8,8],\"m\":{\"0\":\"write\"}}</script>\n"
        );
    }
}

//! The web page's search of a folder and everything below it, as ferry's
//! HTTP dialect asks for it and answers it: the `q` of a folder's query
//! read into a [`Search`](crate::serve::Search), and the results written as
//! one JSON object, piece by piece as the walk finds them (a
//! [`ListingFormat`]: spooled on the pool and sent like a listing; the
//! walk and its caps are `serve/search.rs`'s). Sans-IO.
//!
//! ```text
//! GET /<dir>/?q=<term>   (percent-encoded; + for a space)
//! {"q":"term","results":[{"name":"d/a/b.txt","size":3,"mtime":1767225600,"folder":false},
//!                        {"name":"d/Term/","mtime":1767225600,"folder":true}],"truncated":false}
//! ```

use crate::http::message::Refused;
use crate::serve::terms::Format;
use crate::serve::{ListingFormat, Piece};

/// The longest term looked for, in bytes: a name's segment is at most
/// 255, so a longer term finds nothing anyway.
const MAX_TERM: usize = 255;

/// The term a request `target` searches for (`q=` in its query), if any.
///
/// # Errors
/// 400: an empty or overlong term, or one that is not UTF-8.
pub fn term(target: &str) -> Result<Option<String>, Refused> {
    let Some((_, query)) = target.split_once('?') else {
        return Ok(None);
    };
    let Some(value) = query.split('&').find_map(|pair| pair.strip_prefix("q=")) else {
        return Ok(None);
    };
    // A form sends a space as `+`; a `+` itself comes as `%2B`.
    let spaced = value.replace('+', " ");
    let bad = || (400, "q= must be percent-encoded UTF-8".to_owned());
    let bytes = crate::name::percent_decode(spaced.as_bytes()).map_err(|_| bad())?;
    let term = String::from_utf8(bytes).map_err(|_| bad())?;
    if term.trim().is_empty() {
        return Err((400, "q= needs something to look for".into()));
    }
    if term.len() > MAX_TERM {
        return Err((400, format!("q= is longer than {MAX_TERM} bytes")));
    }
    Ok(Some(term))
}

/// The JSON format of a search's results for `term` (as asked).
pub fn format(term: &str) -> ListingFormat {
    Box::new(Results {
        term: term.to_owned(),
        any: false,
        truncated: false,
    })
}

/// The results being written: whether one was written yet (for the
/// commas), and whether the search was cut short.
#[derive(Debug)]
struct Results {
    term: String,
    any: bool,
    truncated: bool,
}

impl Format for Results {
    fn put(&mut self, _prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = String::new();
        let mut result = |text: &mut String, name: &str| {
            text.push_str(if self.any {
                ",{\"name\":"
            } else {
                "{\"name\":"
            });
            self.any = true;
            crate::formats::json::push_string(text, name);
        };
        match piece {
            Piece::Start => {
                text.push_str("{\"q\":");
                crate::formats::json::push_string(&mut text, &self.term);
                text.push_str(",\"results\":[");
            }
            Piece::Directory { name, mtime, .. } => {
                result(&mut text, name);
                text.push_str(&format!(",\"mtime\":{mtime},\"folder\":true}}"));
            }
            Piece::File { entry, .. } => {
                result(&mut text, &entry.name);
                let (size, mtime) = (entry.info.size, entry.info.mtime);
                text.push_str(&format!(
                    ",\"size\":{size},\"mtime\":{mtime},\"folder\":false}}"
                ));
            }
            Piece::End => {
                text.push_str(&format!("],\"truncated\":{}}}\n", self.truncated));
            }
            Piece::Files | Piece::Only(_) => {}
        }
        out.extend_from_slice(text.as_bytes());
    }

    fn truncated(&mut self) {
        self.truncated = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileInfo, ListEntry};

    #[test]
    fn a_term_is_read_from_the_query() {
        assert_eq!(term("/d/").unwrap(), None);
        assert_eq!(term("/d/?format=json").unwrap(), None);
        assert_eq!(term("/d/?q=abc").unwrap().as_deref(), Some("abc"));
        assert_eq!(term("/d/?x=1&q=a+b%2Bc").unwrap().as_deref(), Some("a b+c"));
        assert_eq!(term("/?q=%C3%BCn").unwrap().as_deref(), Some("ün"));
        assert_eq!(term("/d/?q=").unwrap_err().0, 400);
        assert_eq!(term("/d/?q=%FF").unwrap_err().0, 400);
        assert_eq!(
            term(&format!("/?q={}", "a".repeat(256))).unwrap_err().0,
            400
        );
    }

    #[test]
    fn results_are_one_object_that_says_whether_it_was_cut_short() {
        let mut format = format("a\"b");
        let entry = ListEntry {
            name: "d/x\"ab.txt".into(),
            info: FileInfo { size: 3, mtime: 7 },
            stamp: Default::default(),
        };
        let mut out = Vec::new();
        format.put("d/", Piece::Start, &mut out);
        format.put("d/", Piece::Files, &mut out);
        let folder = Piece::Directory {
            name: "d/A\"B/",
            mtime: 5,
            first: false,
        };
        format.put("d/", folder, &mut out);
        let file = Piece::File {
            entry: &entry,
            first: false,
        };
        format.put("d/", file, &mut out);
        format.truncated();
        format.put("d/", Piece::End, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"q\":\"a\\\"b\",\"results\":[{\"name\":\"d/A\\\"B/\",\"mtime\":5,\"folder\":true},{\"name\":\"d/x\\\"ab.txt\",\"size\":3,\"mtime\":7,\"folder\":false}],\"truncated\":true}\n"
        );
    }
}

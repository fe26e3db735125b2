//! The wildcards of `LIST` and `NLST` (`NLST *.csv`: what the classic
//! `ftp` client's `mget *.csv` sends, and many an old script with it):
//! `*` any run of characters, `?` any one, in the last step of the path
//! only, as vsftpd and ProFTPD take them. Neither matches a leading `.`
//! (a shell's rule: `*` is not `.profile`). A `[` is itself: a camera's
//! `IMG [1].jpg` is a name, not a class.
//!
//! Must never take time beyond the name's length times the pattern's: a
//! pattern such as `*a*a*a*b` against a long name is matched by the
//! linear-backtracking walk below, never by recursion; and a pattern is
//! no longer than a name may be (255 bytes), so that a folder's walk
//! costs at most 255 × 255 steps an entry, whatever a client sends.

/// The longest name a folder's entry has (Linux's `NAME_MAX`), in bytes.
const MAX_LEAF: usize = 255;

/// A last step with `*` or `?` in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    chars: Vec<char>,
}

impl Pattern {
    /// The pattern `step` is, if it holds a wildcard; `None` for a plain
    /// name (listed as itself), as for one longer than any name may be.
    pub fn of(step: &str) -> Option<Pattern> {
        (step.len() <= MAX_LEAF && step.contains(['*', '?'])).then(|| Pattern {
            chars: step.chars().collect(),
        })
    }

    /// Whether the entry's own name `leaf` matches.
    pub fn matches(&self, leaf: &str) -> bool {
        if leaf.starts_with('.') && self.chars.first() != Some(&'.') {
            return false;
        }
        let name: Vec<char> = leaf.chars().collect();
        let (mut p, mut n) = (0, 0);
        // The last `*` seen, and where in the name its run now ends.
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.chars.get(p) {
                Some('*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(&c) if c == '?' || c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    // The `*` takes one more character, and the rest of
                    // the pattern is tried from there.
                    Some((at, run)) => {
                        star = Some((at, run + 1));
                        p = at + 1;
                        n = run + 1;
                    }
                    None => return false,
                },
            }
        }
        self.chars[p..].iter().all(|&c| c == '*')
    }
}

/// A listing's argument split into its folder and the pattern of its last
/// step: `("photos/", *.jpg)` of `photos/*.jpg`, `("", *.csv)` of `*.csv`;
/// `None` where there is no wildcard in it.
pub fn split(path: &str) -> Option<(&str, Pattern)> {
    let (folder, step) = match path.rfind('/') {
        Some(at) => path.split_at(at + 1),
        None => ("", path),
    };
    Some((folder, Pattern::of(step)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, leaf: &str) -> bool {
        Pattern::of(pattern).expect("a pattern").matches(leaf)
    }

    #[test]
    fn stars_and_marks_match_as_a_shell_does() {
        assert!(matches("*.jpg", "a.jpg"));
        assert!(!matches("*.jpg", "a.jpeg"));
        assert!(matches("IMG_????.jpg", "IMG_0042.jpg"));
        assert!(!matches("IMG_????.jpg", "IMG_042.jpg"));
        assert!(matches("*", "anything at all"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("*2026*", "log-2026-11.csv"));
        assert!(matches("x*", "x"));
        assert!(matches("résumé*", "résumé v2.pdf"), "characters, not bytes");
        assert!(matches("?", "é"));
    }

    #[test]
    fn a_leading_dot_is_matched_only_by_a_dot() {
        assert!(!matches("*", ".hidden"));
        assert!(!matches("?hidden", ".hidden"));
        assert!(matches(".*", ".hidden"));
    }

    #[test]
    fn brackets_are_themselves() {
        assert!(matches("IMG [1]*", "IMG [1].jpg"));
        assert!(!matches("IMG [1]*", "IMG 1.jpg"));
        assert!(Pattern::of("IMG [1].jpg").is_none());
    }

    #[test]
    fn a_pattern_built_to_backtrack_ends_at_once() {
        let name = "a".repeat(10_000);
        assert!(!matches("*a*a*a*a*a*a*a*a*b", &name));
        let longest = format!("*{}b", "a".repeat(MAX_LEAF - 2));
        assert!(!matches(&longest, &"a".repeat(MAX_LEAF)));
    }

    #[test]
    fn a_pattern_longer_than_any_name_is_none() {
        assert!(Pattern::of(&"*".repeat(MAX_LEAF)).is_some());
        assert!(Pattern::of(&"*".repeat(MAX_LEAF + 1)).is_none());
    }

    #[test]
    fn only_the_last_step_is_a_pattern() {
        let (folder, pattern) = split("photos/2026/*.jpg").expect("a pattern");
        assert_eq!(folder, "photos/2026/");
        assert!(pattern.matches("a.jpg"));
        assert_eq!(split("*.csv").map(|(f, _)| f), Some(""));
        assert!(split("photos/a.jpg").is_none());
        assert!(split("ph*tos/a.jpg").is_none());
    }
}

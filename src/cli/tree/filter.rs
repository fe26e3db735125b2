//! `--exclude <glob>` and `--include <glob>`: which files of a folder a
//! command (put -r, get -r, rm -r, sync) takes.
//!
//! A glob is matched against a file's path relative to the folder, its
//! base name, and each of its parent folders (as a path and by name), so
//! `--exclude '*.log'`, `--exclude cache` and `--exclude 'build/tmp'` all
//! mean what they say. A file is left out if an `--exclude` matches it and
//! no `--include` does: `--include '*.csv' --exclude '*'` takes only CSV
//! files, whatever the order of the options (unlike rsync, where the
//! first matching rule wins: one rule fewer to explain).
//!
//! Glob syntax: `*` any run of characters but `/`, `**` any run including
//! `/` (`**/` also matches nothing), `?` one character but `/`, `[abc]`,
//! `[a-z]`, `[!a-z]` (or `[^a-z]`) one character of a class, `\x` a
//! literal `x`.

use clap::Args;

/// The options, flattened into each command that takes them.
#[derive(Debug, Args, Default, Clone)]
pub struct FilterArgs {
    /// Leave out files matching this glob (`*.log`, `cache`, `**/tmp/*`);
    /// repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Take files matching this glob even if an --exclude matches them;
    /// repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
}

impl FilterArgs {
    /// Whether the file at `relative` (to the folder, with `/`) is taken.
    pub fn keeps(&self, relative: &str) -> bool {
        let hits = |globs: &[String]| globs.iter().any(|glob| matches_file(glob, relative));
        !hits(&self.exclude) || hits(&self.include)
    }
}

/// `glob` against the relative path, the base name, and every parent
/// folder as a path and by name.
fn matches_file(glob: &str, relative: &str) -> bool {
    let glob: Vec<char> = glob.trim_end_matches('/').chars().collect();
    let test = |text: &str| matches(&glob, &text.chars().collect::<Vec<_>>());
    if test(relative) {
        return true;
    }
    let mut start = 0;
    for (at, _) in relative.match_indices('/') {
        if test(&relative[..at]) || test(&relative[start..at]) {
            return true;
        }
        start = at + 1;
    }
    start > 0 && test(&relative[start..])
}

/// Whether `glob` matches all of `text`.
fn matches(glob: &[char], text: &[char]) -> bool {
    let Some(&first) = glob.first() else {
        return text.is_empty();
    };
    match first {
        '*' if glob.get(1) == Some(&'*') => {
            let rest = &glob[2..];
            // `**/x` also matches `x`: zero folders.
            if rest.first() == Some(&'/') && matches(&rest[1..], text) {
                return true;
            }
            (0..=text.len()).any(|skip| matches(rest, &text[skip..]))
        }
        '*' => {
            let within = text.iter().position(|&c| c == '/').unwrap_or(text.len());
            (0..=within).any(|skip| matches(&glob[1..], &text[skip..]))
        }
        '?' => text.first().is_some_and(|&c| c != '/') && matches(&glob[1..], &text[1..]),
        '[' => match class(&glob[1..]) {
            Some((negated, members, len)) => text.first().is_some_and(|&c| {
                c != '/'
                    && in_class(&members, c) != negated
                    && matches(&glob[1 + len..], &text[1..])
            }),
            // No closing `]`: a literal `[`.
            None => literal(glob, '[', text),
        },
        '\\' if glob.len() > 1 => text.first() == Some(&glob[1]) && matches(&glob[2..], &text[1..]),
        c => literal(glob, c, text),
    }
}

fn literal(glob: &[char], c: char, text: &[char]) -> bool {
    text.first() == Some(&c) && matches(&glob[1..], &text[1..])
}

/// The class after a `[`: whether it is negated, its members, and how
/// many characters of the glob it takes, `]` included.
fn class(glob: &[char]) -> Option<(bool, Vec<char>, usize)> {
    let negated = matches!(glob.first(), Some('!' | '^'));
    let start = usize::from(negated);
    // A `]` first in the class is a member, as in shells.
    let close = glob
        .iter()
        .skip(start + 1)
        .position(|&c| c == ']')
        .map(|at| at + start + 1)?;
    Some((negated, glob[start..close].to_vec(), close + 1))
}

fn in_class(members: &[char], c: char) -> bool {
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == '-' {
            if (members[i]..=members[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if members[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        matches(
            &pattern.chars().collect::<Vec<_>>(),
            &text.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn globs() {
        assert!(glob("*.log", "a.log"));
        assert!(!glob("*.log", "x/a.log"));
        assert!(glob("**/*.log", "x/y/a.log"));
        assert!(glob("**/*.log", "a.log"));
        assert!(glob("x/**", "x/y/z"));
        assert!(glob("?.txt", "a.txt"));
        assert!(!glob("?.txt", "ab.txt"));
        assert!(glob("[a-c]1", "b1"));
        assert!(!glob("[!a-c]1", "b1"));
        assert!(glob("[^a-c]1", "d1"));
        assert!(glob("[]x]", "]"));
        assert!(glob("[oops", "[oops"));
        assert!(glob("a\\*", "a*"));
        assert!(!glob("a\\*", "ab"));
        assert!(glob("ünï*", "ünïcode"));
    }

    #[test]
    fn files_match_by_path_name_or_folder() {
        let filter = |exclude: &[&str], include: &[&str]| FilterArgs {
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            include: include.iter().map(|s| s.to_string()).collect(),
        };
        let logs = filter(&["*.log"], &[]);
        assert!(!logs.keeps("deep/down/a.log"));
        assert!(logs.keeps("a.txt"));
        let cache = filter(&["cache/"], &[]);
        assert!(!cache.keeps("x/cache/y.bin"));
        assert!(cache.keeps("cached.bin"));
        let tmp = filter(&["build/tmp"], &[]);
        assert!(!tmp.keeps("build/tmp/a"));
        assert!(tmp.keeps("build/out/a"));
        let only_csv = filter(&["*"], &["*.csv"]);
        assert!(only_csv.keeps("x/y.csv"));
        assert!(!only_csv.keeps("x/y.txt"));
        assert!(filter(&[], &["*.csv"]).keeps("a.txt"));
    }
}

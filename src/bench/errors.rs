//! What went wrong in a bench run, so that a report says more than a
//! count: how many errors of each kind (`ERR 507`, `connection`,
//! `connect`) and the first one's whole message.

use std::collections::BTreeMap;

/// The errors of a run.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// Errors per kind, in the kinds' order.
    by_kind: BTreeMap<String, u64>,
    /// The first error's message.
    first: Option<String>,
}

impl Errors {
    /// Counts one error of `kind`; keeps `message` if it is the first.
    pub fn record(&mut self, kind: impl Into<String>, message: impl Into<String>) {
        *self.by_kind.entry(kind.into()).or_default() += 1;
        if self.first.is_none() {
            self.first = Some(message.into());
        }
    }

    /// Errors in all.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// `3 (ERR 507: 2, connection: 1; first: ERR 507 disk full)`, or `0`.
    pub fn describe(&self) -> String {
        let Some(first) = &self.first else {
            return "0".into();
        };
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, count)| format!("{kind}: {count}"))
            .collect();
        format!("{} ({}; first: {first})", self.total(), kinds.join(", "))
    }

    /// `{"ERR 507":2,"connection":1}` and the first message (JSON, or
    /// `null`), as fields `error_kinds` and `first_error` of the report.
    pub fn json_fields(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, count)| format!("{}:{count}", crate::formats::json::string(kind)))
            .collect();
        let first = self
            .first
            .as_deref()
            .map_or("null".into(), crate::formats::json::string);
        format!(
            "\"error_kinds\":{{{}}},\"first_error\":{first}",
            kinds.join(",")
        )
    }

    /// Adds `other`'s errors to these (its first counts only if these
    /// have none).
    pub fn absorb(&mut self, other: Errors) {
        for (kind, count) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += count;
        }
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_by_kind_and_the_first_is_kept() {
        let mut errors = Errors::default();
        assert_eq!(errors.describe(), "0");
        errors.record("ERR 507", "ERR 507 disk \"full\"");
        errors.record("connection", "connection closed by the server");
        errors.record("ERR 507", "ERR 507 again");
        assert_eq!(errors.total(), 3);
        assert_eq!(
            errors.describe(),
            "3 (ERR 507: 2, connection: 1; first: ERR 507 disk \"full\")"
        );
        assert_eq!(
            errors.json_fields(),
            r#""error_kinds":{"ERR 507":2,"connection":1},"first_error":"ERR 507 disk \"full\"""#
        );
    }
}

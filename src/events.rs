//! Event lines on stdout (`event=NAME key=value ...`), one per line, which journald keeps and
//! operators grep. Values with spaces or quotes are quoted. Callers pass ids, counts, reasons
//! and file names only — never image data, embeddings or anything inferred about a visitor.

use std::io::Write;

/// Formats one event line (without the newline).
pub fn format(name: &str, fields: &[(&str, String)]) -> String {
    let mut line = format!("event={name}");
    for (k, v) in fields {
        line.push(' ');
        line.push_str(k);
        line.push('=');
        if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '"' || c == '=') {
            line.push('"');
            for c in v.chars() {
                match c {
                    '"' => line.push_str("\\\""),
                    '\\' => line.push_str("\\\\"),
                    '\n' | '\r' => line.push(' '),
                    c => line.push(c),
                }
            }
            line.push('"');
        } else {
            line.push_str(v);
        }
    }
    line
}

/// One event as data: the service loop returns these, so its tests can look at them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    pub fields: Vec<(&'static str, String)>,
}

impl Event {
    pub fn new(name: &'static str, fields: Vec<(&'static str, String)>) -> Event {
        Event { name, fields }
    }

    /// The value of a field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// The line (without the newline).
    pub fn line(&self) -> String {
        format(self.name, &self.fields)
    }

    /// Writes the line to stdout.
    pub fn emit(&self) {
        emit(self.name, &self.fields);
    }
}

/// Writes one event line to stdout and flushes it.
pub fn emit(name: &str, fields: &[(&str, String)]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", format(name, fields));
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_values_with_spaces() {
        assert_eq!(format("ready", &[]), "event=ready");
        assert_eq!(
            format("match", &[("role_model", "demo-01".into()), ("similarity", "0.512".into())]),
            "event=match role_model=demo-01 similarity=0.512"
        );
        assert_eq!(format("usb_rejected", &[("reason", "bad \"sig\"\nx".into())]), "event=usb_rejected reason=\"bad \\\"sig\\\" x\"");
        assert_eq!(format("x", &[("v", String::new())]), "event=x v=\"\"");
    }
}

//! `plugin test --expect FILE`: is the produced document byte for byte the
//! expected one, and if not, how do they differ — in holders (missing,
//! extra, different balance) and in the document's other fields.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many examples of each kind of difference the summary lists.
const EXAMPLES: usize = 10;

/// How a produced document differs from the expected one.
#[derive(Debug, Default)]
pub struct DocumentDiff {
    /// Top-level fields (all but the holders) whose values differ:
    /// `(field, expected, produced)`.
    pub fields: Vec<(String, String, String)>,
    /// Accounts in the expected document only, with their balance.
    pub missing: Vec<(String, String)>,
    /// Accounts in the produced document only, with their balance.
    pub extra: Vec<(String, String)>,
    /// Accounts in both with different balances: `(account, expected,
    /// produced)`.
    pub different: Vec<(String, String, String)>,
    /// Holder counts: expected, produced.
    pub counts: (usize, usize),
    /// Set when the expected file could not be read as a document.
    pub unreadable: Option<String>,
    /// The first byte offset where the documents differ.
    pub first_difference: usize,
}

impl DocumentDiff {
    /// One line: what differs, in numbers.
    pub fn headline(&self) -> String {
        if let Some(why) = &self.unreadable {
            return format!("the expected file is not a snapshot document ({why})");
        }
        let mut parts = Vec::new();
        if !self.fields.is_empty() {
            let names: Vec<&str> = self.fields.iter().map(|(f, _, _)| f.as_str()).collect();
            parts.push(format!("fields {}", names.join(", ")));
        }
        if !(self.missing.is_empty() && self.extra.is_empty() && self.different.is_empty()) {
            parts.push(format!(
                "holders: {} missing, {} extra, {} different",
                self.missing.len(),
                self.extra.len(),
                self.different.len()
            ));
        }
        if parts.is_empty() {
            return format!(
                "same fields and holders, but the bytes differ from offset {} (formatting?)",
                self.first_difference
            );
        }
        parts.join("; ")
    }

    /// Several lines, with examples of each difference.
    pub fn details(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "holders: expected {}, produced {}",
            self.counts.0, self.counts.1
        );
        for (field, expected, produced) in &self.fields {
            let _ = writeln!(w, "field {field}: expected {expected}, produced {produced}");
        }
        let list = |w: &mut String, label: &str, rows: Vec<String>| {
            let total = rows.len();
            for row in rows.into_iter().take(EXAMPLES) {
                let _ = writeln!(w, "{label:<9} {row}");
            }
            if total > EXAMPLES {
                let _ = writeln!(w, "{label:<9} ... and {} more", total - EXAMPLES);
            }
        };
        list(
            w,
            "missing",
            self.missing
                .iter()
                .map(|(a, b)| format!("{a} (balance {b})"))
                .collect(),
        );
        list(
            w,
            "extra",
            self.extra
                .iter()
                .map(|(a, b)| format!("{a} (balance {b})"))
                .collect(),
        );
        list(
            w,
            "different",
            self.different
                .iter()
                .map(|(a, e, p)| format!("{a}: expected {e}, produced {p}"))
                .collect(),
        );
        out
    }
}

/// `None` when `produced` is byte-identical to `expected`; otherwise what
/// differs. Both are documents of the same format (`csv` when `csv`).
pub fn compare(expected: &[u8], produced: &[u8], csv: bool) -> Option<DocumentDiff> {
    if expected == produced {
        return None;
    }
    let mut diff = DocumentDiff {
        first_difference: expected
            .iter()
            .zip(produced)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(produced.len())),
        ..DocumentDiff::default()
    };
    let parse = if csv { parse_csv } else { parse_json };
    let (want, got) = match (parse(expected), parse(produced)) {
        (Ok(w), Ok(g)) => (w, g),
        (Err(e), _) => {
            diff.unreadable = Some(e);
            return Some(diff);
        }
        (_, Err(e)) => {
            // Our own output always parses; say so loudly if it does not.
            diff.unreadable = Some(format!("the produced document does not parse: {e}"));
            return Some(diff);
        }
    };
    diff.counts = (want.holders.len(), got.holders.len());
    for (field, expected) in &want.fields {
        let produced = got
            .fields
            .get(field)
            .map(String::as_str)
            .unwrap_or("absent");
        if produced != expected {
            diff.fields
                .push((field.clone(), expected.clone(), produced.to_string()));
        }
    }
    for (field, produced) in &got.fields {
        if !want.fields.contains_key(field) {
            diff.fields
                .push((field.clone(), "absent".into(), produced.clone()));
        }
    }
    for (account, balance) in &want.holders {
        match got.holders.get(account) {
            None => diff.missing.push((account.clone(), balance.clone())),
            Some(b) if b != balance => {
                diff.different
                    .push((account.clone(), balance.clone(), b.clone()))
            }
            Some(_) => {}
        }
    }
    for (account, balance) in &got.holders {
        if !want.holders.contains_key(account) {
            diff.extra.push((account.clone(), balance.clone()));
        }
    }
    Some(diff)
}

/// A document reduced to what the diff compares.
struct Parsed {
    /// Top-level fields but `holders`, as compact JSON text.
    fields: BTreeMap<String, String>,
    /// Account → balance.
    holders: BTreeMap<String, String>,
}

fn parse_json(bytes: &[u8]) -> Result<Parsed, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(mut doc) = value else {
        return Err("not a JSON object".into());
    };
    let Some(serde_json::Value::Array(list)) = doc.remove("holders") else {
        return Err("no `holders` array".into());
    };
    let mut holders = BTreeMap::new();
    for h in list {
        let field = |name: &str| h.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(account), Some(balance)) = (field("account"), field("balance")) else {
            return Err(format!("a holder without account or balance: {h}"));
        };
        holders.insert(account, balance);
    }
    let fields = doc.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    Ok(Parsed { fields, holders })
}

fn parse_csv(bytes: &[u8]) -> Result<Parsed, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty")?;
    if !header.starts_with("rank,account,balance") {
        return Err(format!("unexpected CSV header {header:?}"));
    }
    let mut holders = BTreeMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let mut cols = line.split(',');
        let (_, Some(account), Some(balance)) = (cols.next(), cols.next(), cols.next()) else {
            return Err(format!("a row with fewer than three columns: {line:?}"));
        };
        holders.insert(account.to_string(), balance.to_string());
    }
    Ok(Parsed {
        fields: BTreeMap::new(),
        holders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"chain":"demo","resolved_at":"7","holders":[{"rank":1,"account":"a","balance":"30"},{"rank":2,"account":"b","balance":"20"},{"rank":3,"account":"c","balance":"10"}]}"#;

    #[test]
    fn identical_bytes_are_no_difference() {
        assert!(compare(DOC.as_bytes(), DOC.as_bytes(), false).is_none());
    }

    #[test]
    fn missing_extra_and_different_holders_and_fields_are_named() {
        let produced = DOC
            .replace(
                r#""account":"c","balance":"10""#,
                r#""account":"d","balance":"10""#,
            )
            .replace(r#""balance":"20""#, r#""balance":"21""#)
            .replace(r#""resolved_at":"7""#, r#""resolved_at":"8""#);
        let diff = compare(DOC.as_bytes(), produced.as_bytes(), false).unwrap();
        assert_eq!(diff.missing, vec![("c".into(), "10".into())]);
        assert_eq!(diff.extra, vec![("d".into(), "10".into())]);
        assert_eq!(diff.different, vec![("b".into(), "20".into(), "21".into())]);
        assert_eq!(
            diff.fields,
            vec![("resolved_at".into(), "\"7\"".into(), "\"8\"".into())]
        );
        assert_eq!(
            diff.headline(),
            "fields resolved_at; holders: 1 missing, 1 extra, 1 different"
        );
        assert!(diff.details().contains("missing   c (balance 10)"));
    }

    #[test]
    fn csv_documents_are_compared_by_row() {
        let want = "rank,account,balance,balance_formatted,share\n1,a,30,30,0.5\n2,b,30,30,0.5\n";
        let got = "rank,account,balance,balance_formatted,share\n1,a,30,30,0.5\n2,b,31,31,0.5\n";
        let diff = compare(want.as_bytes(), got.as_bytes(), true).unwrap();
        assert_eq!(diff.different.len(), 1);
        assert!(diff.missing.is_empty() && diff.extra.is_empty());
    }

    #[test]
    fn an_expected_file_that_is_no_document_says_so() {
        let diff = compare(b"hello", DOC.as_bytes(), false).unwrap();
        assert!(diff.headline().contains("not a snapshot document"));
        let same = format!("{DOC}\n");
        let diff = compare(same.as_bytes(), DOC.as_bytes(), false).unwrap();
        assert!(
            diff.headline().contains("formatting"),
            "{}",
            diff.headline()
        );
    }
}

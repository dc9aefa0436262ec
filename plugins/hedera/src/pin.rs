//! The pinned point in time: Hedera consensus timestamps `secs.nanos`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Normalises a caller's `at` to `secs.nnnnnnnnn`.
///
/// Accepts `secs`, `secs.nanos` (1–9 fractional digits) or an RFC 3339 time.
pub fn parse_at(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Some((secs, nanos)) = split_consensus(text) {
        return Ok(format!("{secs}.{nanos:09}"));
    }
    let dt = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        format!(
            "`{text}` is not a point in time: expected `secs[.nanos]` (e.g. `1700000000.5`) or RFC 3339 (e.g. `2024-05-01T00:00:00Z`)"
        )
    })?;
    let secs = dt.unix_timestamp();
    if secs < 0 {
        return Err(format!("`{text}` is before 1970"));
    }
    Ok(format!("{secs}.{:09}", dt.nanosecond()))
}

fn split_consensus(text: &str) -> Option<(u64, u32)> {
    let (secs, frac) = match text.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (text, None),
    };
    if secs.is_empty() || secs.len() > 19 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = secs.parse().ok()?;
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse().ok()?
        }
        Some(_) => return None,
    };
    Some((secs, nanos))
}

/// Formats wall-clock `now` (from the host's clock) as `secs.nanos`.
pub fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consensus_forms() {
        assert_eq!(parse_at("1700000000").unwrap(), "1700000000.000000000");
        assert_eq!(parse_at("1700000000.5").unwrap(), "1700000000.500000000");
        assert_eq!(
            parse_at("1700000000.000000001").unwrap(),
            "1700000000.000000001"
        );
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(
            parse_at("2023-11-14T22:13:20Z").unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            parse_at("2023-11-14T23:13:20.25+01:00").unwrap(),
            "1700000000.250000000"
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1.",
            ".5",
            "1.1234567890",
            "-5",
            "2023-13-01T00:00:00Z",
        ] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}

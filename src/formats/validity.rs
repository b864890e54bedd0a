//! Validity windows (`not_before`, `expires_at`, `warn_before_expiry_seconds`) and the
//! freshness floor (`min_remaining_validity_seconds`), evaluated as LQFT does.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::policy::PolicyCode;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// A validity window as the caller writes it. Timestamps are stored exactly as given (LQFT
/// keeps them unnormalised), after a syntax check when a file is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validity {
    /// ISO-8601 timestamp with a timezone offset (or `Z`) before which the file is not valid.
    pub not_before: Option<String>,
    /// ISO-8601 timestamp with a timezone offset (or `Z`) from which the file is expired.
    pub expires_at: Option<String>,
    /// Report `expiring-soon` when fewer seconds than this remain; requires `expires_at`
    /// when non-zero.
    pub warn_before_expiry_seconds: Option<u64>,
}

impl Validity {
    /// A window that expires `seconds` after `now`, starting at `now`.
    ///
    /// `None` when the window would end after 9999-12-31T23:59:59.999999Z, the latest instant
    /// the ISO-8601 form of the format can hold.
    pub fn for_seconds_from(now: SystemTime, seconds: u64) -> Option<Validity> {
        let start = system_time_micros(now);
        let end = i64::try_from(seconds)
            .ok()
            .and_then(|s| s.checked_mul(MICROS_PER_SECOND))
            .and_then(|length| start.checked_add(length))
            .filter(|&end| end <= latest_micros())?;
        Some(Validity {
            not_before: Some(format_utc_micros(start)),
            expires_at: Some(format_utc_micros(end)),
            warn_before_expiry_seconds: None,
        })
    }

    /// The JSON block, members in LQFT's order, absent ones omitted.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(v) = &self.not_before {
            map.insert("not_before".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.expires_at {
            map.insert("expires_at".into(), Value::String(v.clone()));
        }
        if let Some(v) = self.warn_before_expiry_seconds {
            map.insert("warn_before_expiry_seconds".into(), Value::from(v));
        }
        Value::Object(map)
    }

    /// Checks the window the way a reader will (syntax, `expires_at > not_before`, warn
    /// requires `expires_at`). An already expired window is allowed, as in LQFT.
    pub fn check(&self, subject: &str) -> Result<ValiditySummary> {
        summarize(Some(&self.to_json()), subject, now_micros())
    }
}

/// `status` of a validity window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidityStatus {
    /// No window.
    Unbounded,
    /// Inside the window.
    Valid,
    /// Inside the window, with no more than `warn_before_expiry_seconds` left.
    ExpiringSoon,
    /// At or after `expires_at`.
    Expired,
    /// Before `not_before`.
    NotYetValid,
    /// The block could not be parsed (only in inspection reports).
    Invalid,
}

impl ValidityStatus {
    /// LQFT's status string.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidityStatus::Unbounded => "unbounded",
            ValidityStatus::Valid => "valid",
            ValidityStatus::ExpiringSoon => "expiring-soon",
            ValidityStatus::Expired => "expired",
            ValidityStatus::NotYetValid => "not-yet-valid",
            ValidityStatus::Invalid => "invalid",
        }
    }
}

/// A validity window evaluated at one instant (LQFT's validity summary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValiditySummary {
    /// `not_before` normalised to UTC ISO-8601.
    pub not_before: Option<String>,
    /// `expires_at` normalised to UTC ISO-8601.
    pub expires_at: Option<String>,
    /// As declared.
    pub warn_before_expiry_seconds: Option<u64>,
    /// Whole seconds until `expires_at`, truncated toward zero (negative once expired).
    pub seconds_until_expiry: Option<i64>,
    /// Where the instant falls.
    pub status: ValidityStatus,
    /// `valid`, `expiring-soon` or `unbounded`.
    pub currently_valid: bool,
}

impl ValiditySummary {
    /// The summary of an absent window.
    pub fn unbounded() -> ValiditySummary {
        ValiditySummary {
            not_before: None,
            expires_at: None,
            warn_before_expiry_seconds: None,
            seconds_until_expiry: None,
            status: ValidityStatus::Unbounded,
            currently_valid: true,
        }
    }

    /// The summary inspection reports for a block that does not parse.
    pub fn invalid() -> ValiditySummary {
        ValiditySummary {
            status: ValidityStatus::Invalid,
            currently_valid: false,
            ..ValiditySummary::unbounded()
        }
    }

    /// LQFT's `validity` report object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "not_before": self.not_before,
            "expires_at": self.expires_at,
            "warn_before_expiry_seconds": self.warn_before_expiry_seconds,
            "seconds_until_expiry": self.seconds_until_expiry,
            "status": self.status.as_str(),
            "currently_valid": self.currently_valid,
        })
    }
}

/// A malformed validity block of the document `subject` names, with LQFT's code for it (the
/// one LQFT's classifier gives these messages): trust-store manifests and storage-engine
/// manifests have codes of their own, every other document has the persisted file's.
fn malformed(subject: &str, message: String) -> Error {
    let code = if subject.starts_with(TRUST_STORE_MANIFEST) {
        PolicyCode::SchemaInvalidTrustStoreValidity
    } else if subject.contains(STORAGE_ENGINE_MANIFEST) {
        PolicyCode::SchemaInvalidStorageEngineManifest
    } else {
        PolicyCode::SchemaInvalidValidityBlock
    };
    Error::policy(code, message)
}

/// The subject of a trust-store manifest's validity.
pub(crate) const TRUST_STORE_MANIFEST: &str = "trust store manifest";
/// Part of the subject of a storage-engine manifest's checkpoint validity.
pub(crate) const STORAGE_ENGINE_MANIFEST: &str = "storage engine manifest";

/// Evaluates a validity block (`None` = absent) at `now_us` (microseconds since the Unix
/// epoch). `subject` names the document in messages (`"persisted file"`, `"trust store
/// manifest"`), which also selects LQFT's policy code.
pub fn summarize(validity: Option<&Value>, subject: &str, now_us: i64) -> Result<ValiditySummary> {
    let block = match validity {
        None | Some(Value::Null) => return Ok(ValiditySummary::unbounded()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(malformed(
                subject,
                format!("{subject} validity must be a dictionary"),
            ));
        }
    };
    let timestamp = |field: &str| -> Result<Option<i64>> {
        match block.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => parse_iso8601_micros(s)
                .map(Some)
                .map_err(|why| malformed(subject, format!("{subject} validity.{field} {why}"))),
            Some(_) => Err(malformed(
                subject,
                format!("{subject} validity.{field} must be a non-empty ISO-8601 string"),
            )),
        }
    };
    let not_before = timestamp("not_before")?;
    let expires_at = timestamp("expires_at")?;
    let warn = match block.get("warn_before_expiry_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => {
            return Err(malformed(
                subject,
                format!(
                    "{subject} validity.warn_before_expiry_seconds must be a non-negative integer or null"
                ),
            ));
        }
    };
    if let (Some(nb), Some(exp)) = (not_before, expires_at)
        && exp <= nb
    {
        return Err(malformed(
            subject,
            format!("{subject} validity.expires_at must be later than validity.not_before"),
        ));
    }
    if warn.is_some_and(|w| w > 0) && expires_at.is_none() {
        return Err(malformed(
            subject,
            format!("{subject} validity.warn_before_expiry_seconds requires validity.expires_at"),
        ));
    }
    let seconds_until_expiry = expires_at.map(|exp| (exp - now_us) / MICROS_PER_SECOND);
    let (status, currently_valid) = if not_before.is_some_and(|nb| now_us < nb) {
        (ValidityStatus::NotYetValid, false)
    } else if expires_at.is_some_and(|exp| now_us >= exp) {
        (ValidityStatus::Expired, false)
    } else if let (Some(left), Some(w)) = (seconds_until_expiry, warn) {
        if left <= i64::try_from(w).unwrap_or(i64::MAX) {
            (ValidityStatus::ExpiringSoon, true)
        } else {
            (ValidityStatus::Valid, true)
        }
    } else {
        (ValidityStatus::Valid, true)
    };
    Ok(ValiditySummary {
        not_before: not_before.map(format_utc_micros),
        expires_at: expires_at.map(format_utc_micros),
        warn_before_expiry_seconds: warn,
        seconds_until_expiry,
        status,
        currently_valid,
    })
}

/// Checks a freshness floor as LQFT does: it must be a non-negative integer.
pub fn validate_floor(floor: Option<i64>) -> Result<Option<u64>> {
    match floor {
        None => Ok(None),
        Some(f) if f >= 0 => Ok(Some(f.unsigned_abs())),
        Some(_) => Err(Error::policy(
            PolicyCode::FreshnessInvalidMinRemainingValidity,
            "min_remaining_validity_seconds must be a non-negative integer or null",
        )),
    }
}

/// Enforces a freshness floor against a summary: it needs `expires_at`, with at least
/// `floor` seconds left.
pub fn enforce_floor(summary: &ValiditySummary, subject: &str, floor: u64) -> Result<()> {
    let Some(left) = summary.seconds_until_expiry else {
        return Err(Error::policy(
            PolicyCode::FreshnessMissingExpiresAt,
            format!(
                "{subject} does not declare expires_at required by min_remaining_validity_seconds"
            ),
        ));
    };
    if left < i64::try_from(floor).unwrap_or(i64::MAX) {
        return Err(Error::policy(
            PolicyCode::FreshnessBelowMinRemainingValidity,
            format!(
                "{subject} remaining validity is below min_remaining_validity_seconds: {left} < {floor}"
            ),
        ));
    }
    Ok(())
}

/// Microseconds since the Unix epoch of `t` (negative before it).
pub fn system_time_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    system_time_micros(SystemTime::now())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// 9999-12-31T23:59:59.999999Z in microseconds since the Unix epoch: the latest instant a
/// validity timestamp can name.
pub fn latest_micros() -> i64 {
    days_from_civil(10000, 1, 1) * MICROS_PER_DAY - 1
}

/// Python's `datetime.isoformat()` of a UTC instant: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`.
pub fn format_utc_micros(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / MICROS_PER_SECOND;
    let frac = rem % MICROS_PER_SECOND;
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        out.push_str(&format!(".{frac:06}"));
    }
    out.push_str("+00:00");
    out
}

fn digits(s: &[u8], n: usize) -> Option<i64> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        s[..n]
            .iter()
            .fold(0, |acc, &b| acc * 10 + i64::from(b - b'0')),
    )
}

/// Parses `HH[:MM[:SS[.f…]]]` (or the basic `HHMMSS` forms) into microseconds.
fn parse_time(s: &[u8]) -> Option<i64> {
    let hour = digits(s, 2)?;
    let mut rest = &s[2..];
    let extended = rest.first() == Some(&b':');
    let field = |rest: &mut &[u8]| -> Option<Option<i64>> {
        if rest.is_empty() {
            return Some(None);
        }
        if extended {
            *rest = rest.strip_prefix(b":")?;
        }
        let v = digits(rest, 2)?;
        *rest = &rest[2..];
        Some(Some(v))
    };
    let minute = field(&mut rest)?.unwrap_or(0);
    let second = field(&mut rest)?.unwrap_or(0);
    let mut micros = 0;
    if let Some((&sep, frac)) = rest.split_first() {
        if (sep != b'.' && sep != b',') || frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map_or(0, |&b| i64::from(b - b'0'));
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + micros)
}

/// Parses an ISO-8601 timestamp with a timezone offset as LQFT does (Python's
/// `datetime.fromisoformat` after mapping a trailing `Z` to `+00:00`), returning UTC
/// microseconds since the Unix epoch. The error text completes "`<field>` …".
pub fn parse_iso8601_micros(text: &str) -> std::result::Result<i64, &'static str> {
    const NOT_ISO: &str = "must be an ISO-8601 timestamp";
    let s = text.as_bytes();
    let (year, month, day, rest) = if s.get(4) == Some(&b'-') {
        let month = digits(&s[5..], 2).filter(|_| s.get(7) == Some(&b'-'));
        (
            digits(s, 4),
            month,
            s.get(8..).and_then(|r| digits(r, 2)),
            s.get(10..),
        )
    } else {
        (
            digits(s, 4),
            s.get(4..).and_then(|r| digits(r, 2)),
            s.get(6..).and_then(|r| digits(r, 2)),
            s.get(8..),
        )
    };
    let (Some(year), Some(month), Some(day), Some(rest)) = (year, month, day, rest) else {
        return Err(NOT_ISO);
    };
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(NOT_ISO);
    }
    let Some((&sep, time_and_zone)) = rest.split_first() else {
        return Err("must include a timezone offset");
    };
    if sep != b'T' && sep != b' ' {
        return Err(NOT_ISO);
    }
    let zone_at = time_and_zone
        .iter()
        .position(|&b| matches!(b, b'+' | b'-' | b'Z'));
    let (time, zone) = match zone_at {
        Some(i) => time_and_zone.split_at(i),
        None => (time_and_zone, &[][..]),
    };
    let time = parse_time(time).ok_or(NOT_ISO)?;
    let offset = match zone.split_first() {
        None => return Err("must include a timezone offset"),
        Some((b'Z', [])) => 0,
        Some((&sign @ (b'+' | b'-'), body)) => {
            let body_time = parse_time(body).ok_or(NOT_ISO)?;
            if sign == b'-' { -body_time } else { body_time }
        }
        Some(_) => return Err(NOT_ISO),
    };
    let local = days_from_civil(year, month, day) * MICROS_PER_DAY + time;
    let utc = local - offset;
    let (utc_year, _, _) = civil_from_days(utc.div_euclid(MICROS_PER_DAY));
    if !(1..=9999).contains(&utc_year) {
        return Err("is out of range");
    }
    Ok(utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_lqft_writes() {
        let t = parse_iso8601_micros("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(t, 1_577_836_800 * MICROS_PER_SECOND);
        assert_eq!(parse_iso8601_micros("2020-01-01T01:30:00+01:30"), Ok(t));
        assert_eq!(
            parse_iso8601_micros("2019-12-31T19:00:00.000000-05:00"),
            Ok(t)
        );
        assert_eq!(format_utc_micros(t + 5), "2020-01-01T00:00:00.000005+00:00");
        assert_eq!(format_utc_micros(t), "2020-01-01T00:00:00+00:00");
        assert!(parse_iso8601_micros("2020-01-01").is_err());
        assert!(parse_iso8601_micros("2020-01-01T00:00:00").is_err());
        assert!(parse_iso8601_micros("2020-02-30T00:00:00Z").is_err());
        assert!(parse_iso8601_micros("yesterday").is_err());
    }

    #[test]
    fn statuses() {
        let now = 1_000 * MICROS_PER_SECOND;
        let block = |nb: i64, exp: i64, warn: u64| {
            serde_json::json!({
                "not_before": format_utc_micros(nb * MICROS_PER_SECOND),
                "expires_at": format_utc_micros(exp * MICROS_PER_SECOND),
                "warn_before_expiry_seconds": warn,
            })
        };
        let s = |v: Value| summarize(Some(&v), "persisted file", now).unwrap();
        assert_eq!(s(block(0, 2000, 0)).status, ValidityStatus::Valid);
        assert_eq!(s(block(0, 2000, 0)).seconds_until_expiry, Some(1000));
        assert_eq!(s(block(0, 2000, 1000)).status, ValidityStatus::ExpiringSoon);
        assert_eq!(s(block(0, 1000, 0)).status, ValidityStatus::Expired);
        assert_eq!(s(block(1001, 2000, 0)).status, ValidityStatus::NotYetValid);
        let err = summarize(Some(&block(5, 5, 0)), "persisted file", now).unwrap_err();
        assert_eq!(
            err.policy_code(),
            Some(PolicyCode::SchemaInvalidValidityBlock)
        );
    }

    #[test]
    fn malformed_blocks_carry_the_code_lqfts_classifier_gives_their_message() {
        use crate::formats::policy::classify_policy_error;
        let bad = [
            serde_json::json!([]),
            serde_json::json!({"not_before": "yesterday"}),
            serde_json::json!({"expires_at": 5}),
            serde_json::json!({"warn_before_expiry_seconds": -1}),
            serde_json::json!({"not_before": "2020-01-02T00:00:00Z", "expires_at": "2020-01-01T00:00:00Z"}),
            serde_json::json!({"warn_before_expiry_seconds": 5}),
        ];
        let subjects = [
            "persisted file",
            "trust store manifest",
            "storage engine manifest checkpoint",
            "sharded storage engine manifest checkpoint",
        ];
        for subject in subjects {
            for block in &bad {
                let error = summarize(Some(block), subject, 0).unwrap_err();
                assert_eq!(
                    error.policy_code(),
                    Some(classify_policy_error(error.message())),
                    "{error}"
                );
            }
        }
    }

    #[test]
    fn a_window_past_year_9999_is_refused() {
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let left = (latest_micros() / MICROS_PER_SECOND - 1_700_000_000) as u64;
        let last = Validity::for_seconds_from(now, left).unwrap();
        assert!(last.check("persisted file").is_ok());
        assert_eq!(
            last.expires_at.as_deref(),
            Some("9999-12-31T23:59:59+00:00")
        );
        assert_eq!(Validity::for_seconds_from(now, left + 1), None);
        assert_eq!(Validity::for_seconds_from(now, u64::MAX), None);
    }
}

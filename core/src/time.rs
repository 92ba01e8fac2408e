//! Time as the engine sees it: epoch milliseconds, config durations, RFC 3339 parsing and
//! the calendar rules that place `interval` and `today` windows on a queue's local clock.
//!
//! Nothing here reads the wall clock; every function takes the instant it works on.

use std::fmt;

use chrono::{DateTime, Duration as ChronoDuration, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// An instant in event time: milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// A span of time written in config as `20s`, `6m`, `1h30m`, `500ms` or `1d`.
///
/// Kept in whole milliseconds; `Display` writes it back in the shortest exact spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(Millis);

impl Span {
    pub const fn from_millis(ms: Millis) -> Self {
        Span(ms)
    }
    pub const fn from_secs(s: i64) -> Self {
        Span(s * SECOND)
    }
    pub const fn millis(self) -> Millis {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
}

/// Why a duration string was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {text:?}: {why} (write it like \"20s\", \"6m\", \"1h30m\", \"500ms\" or \"1d\")")]
pub struct SpanError {
    pub text: String,
    pub why: &'static str,
}

impl std::str::FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| SpanError {
            text: text.to_string(),
            why,
        };
        let s = text.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: i64 = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(err("expected a number"));
            }
            let n: i64 = s[start..i].parse().map_err(|_| err("number too large"))?;
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &s[ustart..i] {
                "ms" => 1,
                "s" => SECOND,
                "m" => MINUTE,
                "h" => HOUR,
                "d" => DAY,
                "" => return Err(err("missing unit")),
                _ => return Err(err("unknown unit")),
            };
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| err("too large"))?;
        }
        Ok(Span(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [
            (DAY, "d"),
            (HOUR, "h"),
            (MINUTE, "m"),
            (SECOND, "s"),
            (1, "ms"),
        ] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"20s\" or \"6m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Parses an RFC 3339 timestamp with offset (`2026-11-23T10:00:00.250+03:00`, `...Z`) into epoch
/// milliseconds. Sub-millisecond digits are truncated toward the past.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let dt = DateTime::parse_from_rfc3339(text).ok()?;
    Some(dt.timestamp_millis())
}

/// Formats epoch milliseconds as RFC 3339 UTC (for logs and JSON output).
pub fn format_rfc3339(ms: Millis) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Plausible event instants: 1970-01-01 up to 9999-12-31. Anything else is a bad timestamp.
pub const MAX_MILLIS: Millis = 253_402_300_799_999;

/// The local clock of one queue: its IANA zone and the local time its business day starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    pub zone: Tz,
    pub day_start: NaiveTime,
}

impl LocalClock {
    /// Start of the current reporting interval: the latest instant `<= now` whose local
    /// minutes-since-midnight are a multiple of `interval` (which divides a day).
    pub fn interval_start(&self, now: Millis, interval: Span) -> Millis {
        let step = interval.millis().max(MINUTE);
        let local = self.local_naive(now);
        let date = local.date();
        let since_midnight = local
            .time()
            .signed_duration_since(NaiveTime::MIN)
            .num_milliseconds();
        let mut floored = since_midnight - since_midnight.rem_euclid(step);
        // Walk back one interval at a time until a local reading maps to an instant <= now
        // (a reading inside a DST gap maps to none; the first step always exists in practice).
        for _ in 0..(2 * DAY / step + 2) {
            let (d, ms) = if floored >= 0 {
                (date, floored)
            } else {
                let days_back = (-floored + DAY - 1) / DAY;
                (
                    date - ChronoDuration::days(days_back),
                    floored + days_back * DAY,
                )
            };
            let t = NaiveTime::MIN + ChronoDuration::milliseconds(ms);
            if let Some(at) = self.latest_at_or_before(d, t, now) {
                return at;
            }
            floored -= step;
        }
        now - now.rem_euclid(step)
    }

    /// Start of `today`: the latest instant `<= now` at which the local clock reads `day_start`.
    /// When `day_start` falls into a DST gap on some date, that day starts at the end of the gap.
    pub fn day_start_before(&self, now: Millis) -> Millis {
        let date = self.local_naive(now).date();
        for back in 0..3 {
            let d = date - ChronoDuration::days(back);
            if let Some(at) = self.latest_at_or_before(d, self.day_start, now) {
                return at;
            }
            if let Some(at) = self.gap_end(d, self.day_start) {
                if at <= now {
                    return at;
                }
            }
        }
        now - DAY
    }

    fn local_naive(&self, now: Millis) -> chrono::NaiveDateTime {
        let utc = DateTime::from_timestamp_millis(now).unwrap_or_default();
        utc.with_timezone(&self.zone).naive_local()
    }

    /// The latest instant `<= now` at which the local clock reads `date time`, if any.
    fn latest_at_or_before(&self, date: NaiveDate, time: NaiveTime, now: Millis) -> Option<Millis> {
        match self.zone.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(t) => Some(t.timestamp_millis()).filter(|&t| t <= now),
            LocalResult::Ambiguous(a, b) => {
                let (early, late) = (
                    a.timestamp_millis().min(b.timestamp_millis()),
                    a.timestamp_millis().max(b.timestamp_millis()),
                );
                if late <= now {
                    Some(late)
                } else if early <= now {
                    Some(early)
                } else {
                    None
                }
            }
            LocalResult::None => None,
        }
    }

    /// For a local reading inside a DST gap: the first instant after the gap.
    fn gap_end(&self, date: NaiveDate, time: NaiveTime) -> Option<Millis> {
        let naive = date.and_time(time);
        if !matches!(self.zone.from_local_datetime(&naive), LocalResult::None) {
            return None;
        }
        // Gaps are at most a few hours and end on a whole minute: the first reading that exists.
        (1..=240).find_map(|m| {
            match self
                .zone
                .from_local_datetime(&(naive + ChronoDuration::minutes(m)))
            {
                LocalResult::Single(t) => Some(t.timestamp_millis()),
                LocalResult::Ambiguous(a, _) => Some(a.timestamp_millis()),
                LocalResult::None => None,
            }
        })
    }
}

/// Parses a local time of day written as `HH:MM` (or `HH:MM:SS`).
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        parse_rfc3339(s).unwrap()
    }

    fn clock(zone: &str, day_start: &str) -> LocalClock {
        LocalClock {
            zone: zone.parse().unwrap(),
            day_start: parse_time_of_day(day_start).unwrap(),
        }
    }

    #[test]
    fn spans_parse_and_print_back() {
        for (text, ms) in [
            ("20s", 20_000),
            ("6m", 360_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("1d", DAY),
            ("24h", DAY),
        ] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.millis(), ms, "{text}");
        }
        assert_eq!(Span::from_millis(5_400_000).to_string(), "1h30m");
        assert_eq!(Span::from_millis(DAY).to_string(), "1d");
        assert!("20".parse::<Span>().is_err());
        assert!("20x".parse::<Span>().is_err());
        assert!("".parse::<Span>().is_err());
        assert!("-5s".parse::<Span>().is_err());
    }

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        assert_eq!(
            at("2026-11-23T10:00:00.250+03:00"),
            at("2026-11-23T07:00:00.250Z")
        );
        assert_eq!(at("1970-01-01T00:00:01Z"), 1000);
        assert_eq!(at("1970-01-01T00:00:00.0019Z"), 1);
        assert!(parse_rfc3339("2026-11-23 10:00:00").is_none());
        assert!(
            parse_rfc3339("2026-11-23T10:00:00").is_none(),
            "offset is required"
        );
    }

    #[test]
    fn interval_alignment_at_plus_0545_with_30_minute_intervals() {
        let kathmandu = clock("Asia/Kathmandu", "00:00");
        // 10:20 local = 04:35Z; the interval started at 10:00 local = 04:15Z.
        let now = at("2026-11-23T04:35:00Z");
        assert_eq!(
            kathmandu.interval_start(now, Span::from_secs(1800)),
            at("2026-11-23T04:15:00Z")
        );
        // exactly on a boundary: the interval starts now
        assert_eq!(
            kathmandu.interval_start(at("2026-11-23T04:45:00Z"), Span::from_secs(1800)),
            at("2026-11-23T04:45:00Z")
        );
        // UTC queue for comparison
        let utc = clock("UTC", "00:00");
        assert_eq!(
            utc.interval_start(now, Span::from_secs(1800)),
            at("2026-11-23T04:30:00Z")
        );
        assert_eq!(
            utc.interval_start(now, Span::from_secs(900)),
            at("2026-11-23T04:30:00Z")
        );
    }

    #[test]
    fn today_starts_at_day_start_in_local_zone() {
        let moscow = clock("Europe/Moscow", "04:00");
        // 02:00 local on the 23rd (23:00Z on the 22nd): today began 04:00 local on the 22nd.
        assert_eq!(
            moscow.day_start_before(at("2026-11-22T23:00:00Z")),
            at("2026-11-22T01:00:00Z")
        );
        // 05:00 local: today began at 04:00 local the same date.
        assert_eq!(
            moscow.day_start_before(at("2026-11-23T02:00:00Z")),
            at("2026-11-23T01:00:00Z")
        );
    }

    #[test]
    fn today_across_dst_changes() {
        let berlin = clock("Europe/Berlin", "00:00");
        // 2026-03-29: clocks go 02:00 -> 03:00 CET->CEST. Local midnight was 23:00Z on the 28th.
        assert_eq!(
            berlin.day_start_before(at("2026-03-29T12:00:00Z")),
            at("2026-03-28T23:00:00Z")
        );
        // next day midnight is 22:00Z (CEST)
        assert_eq!(
            berlin.day_start_before(at("2026-03-30T08:00:00Z")),
            at("2026-03-29T22:00:00Z")
        );
        // 2026-10-25: 03:00 -> 02:00; midnight is 22:00Z on the 24th, the day lasts 25 h.
        assert_eq!(
            berlin.day_start_before(at("2026-10-25T22:59:59Z")),
            at("2026-10-24T22:00:00Z")
        );
        assert_eq!(
            berlin.day_start_before(at("2026-10-25T23:00:00Z")),
            at("2026-10-25T23:00:00Z")
        );
        // a day_start inside the spring gap: the day starts at the end of the gap (03:00 CEST = 01:00Z)
        let gap = clock("Europe/Berlin", "02:30");
        assert_eq!(
            gap.day_start_before(at("2026-03-29T12:00:00Z")),
            at("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn interval_across_fall_back_uses_latest_reading() {
        let berlin = clock("Europe/Berlin", "00:00");
        // 02:10 CET (second pass, 01:10Z): interval 02:00 local second pass = 01:00Z
        assert_eq!(
            berlin.interval_start(at("2026-10-25T01:10:00Z"), Span::from_secs(900)),
            at("2026-10-25T01:00:00Z")
        );
        // 02:10 CEST (first pass, 00:10Z): 02:00 CEST = 00:00Z
        assert_eq!(
            berlin.interval_start(at("2026-10-25T00:10:00Z"), Span::from_secs(900)),
            at("2026-10-25T00:00:00Z")
        );
    }
}

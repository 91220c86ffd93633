//! Which versions of a file history keeps: restic's `forget --keep-*`
//! rules, applied to each file's versions instead of to snapshots.
//!
//! A rule either counts (`keep_daily: 7` keeps the newest version of each
//! of the last 7 days that have one) or spans time (`keep_within_daily:
//! 1 year` keeps the newest version of every day of the last year). A
//! version is kept when any rule keeps it; a file's current version is
//! always kept. Time buckets are UTC: hours, days, ISO weeks (Monday
//! first), calendar months and years.

use serde::{Deserialize, Serialize};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The longest span a rule may name (a thousand years, in seconds): more
/// would overflow the arithmetic on millisecond timestamps.
pub const MAX_SPAN_SECS: u64 = 1000 * 366 * 24 * 3600;

/// A retention policy. Spans are in seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// The newest N versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    /// Every version younger than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_hourly: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_daily: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_weekly: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_monthly: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_within_yearly: Option<u64>,
}

/// One version as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dated {
    /// When it was made (Unix ms).
    pub at: i64,
    /// The file's current version: always kept.
    pub current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Bucket {
    const ALL: [Bucket; 5] = [Bucket::Hour, Bucket::Day, Bucket::Week, Bucket::Month, Bucket::Year];

    fn key(self, at_ms: i64) -> i64 {
        let days = at_ms.div_euclid(DAY);
        match self {
            Bucket::Hour => at_ms.div_euclid(HOUR),
            Bucket::Day => days,
            // 1970-01-01 was a Thursday: Monday-first weeks start 3 days earlier.
            Bucket::Week => (days + 3).div_euclid(7),
            Bucket::Month => {
                let (y, m) = year_month(days);
                y * 12 + m
            }
            Bucket::Year => year_month(days).0,
        }
    }
}

/// The civil (proleptic Gregorian) year and month of a day number (days
/// since 1970-01-01), after Howard Hinnant's `civil_from_days`.
fn year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m)
}

impl Retention {
    /// Pyxis's default: every version for 30 days, then one a day for a year.
    pub fn default_policy() -> Self {
        Self { keep_within: Some(30 * 86_400), keep_within_daily: Some(365 * 86_400), ..Self::default() }
    }

    fn counts(&self) -> [Option<u32>; 5] {
        [self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly]
    }

    fn spans(&self) -> [Option<u64>; 5] {
        [
            self.keep_within_hourly,
            self.keep_within_daily,
            self.keep_within_weekly,
            self.keep_within_monthly,
            self.keep_within_yearly,
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none()
            && self.keep_within.is_none()
            && self.counts().iter().all(Option::is_none)
            && self.spans().iter().all(Option::is_none)
    }

    /// Why a policy cannot be used, if it cannot: it must have a rule (an
    /// empty one would forget every older version), and spans stay bounded.
    pub fn check(&self) -> Result<(), String> {
        if self.is_empty() {
            return Err("a retention policy needs at least one keep rule".into());
        }
        let spans = self.spans().into_iter().chain([self.keep_within]).flatten();
        if spans.into_iter().any(|s| s > MAX_SPAN_SECS) {
            return Err(format!("a keep-within span may be at most {MAX_SPAN_SECS} seconds"));
        }
        Ok(())
    }

    /// How long a removed file stays in the trash: the longest span the
    /// policy keeps versions for, or 30 days when it only counts.
    pub fn trash_ms(&self) -> i64 {
        let longest = self.spans().into_iter().chain([self.keep_within]).flatten().max();
        (longest.unwrap_or(30 * 86_400).min(MAX_SPAN_SECS) as i64) * 1000
    }

    /// Which of one file's versions to keep. `versions` is newest first;
    /// the answer has one flag per version.
    pub fn keep(&self, versions: &[Dated], now_ms: i64) -> Vec<bool> {
        let since = |span: Option<u64>| span.map(|s| now_ms.saturating_sub((s.min(MAX_SPAN_SECS) as i64) * 1000));
        let within = since(self.keep_within);
        let spans: Vec<Option<i64>> = self.spans().into_iter().map(since).collect();
        let mut left: Vec<u32> = self.counts().iter().map(|c| c.unwrap_or(0)).collect();
        let mut last: [Option<i64>; 5] = [None; 5];
        let mut keep = Vec::with_capacity(versions.len());
        for (i, v) in versions.iter().enumerate() {
            let mut k = v.current || self.keep_last.is_some_and(|n| (i as u64) < u64::from(n));
            k |= within.is_some_and(|t| v.at >= t);
            for (b, bucket) in Bucket::ALL.iter().enumerate() {
                let key = bucket.key(v.at);
                if last[b] == Some(key) {
                    continue; // a newer version already stands for this bucket
                }
                last[b] = Some(key);
                if left[b] > 0 {
                    left[b] -= 1;
                    k = true;
                }
                k |= spans[b].is_some_and(|t| v.at >= t);
            }
            keep.push(k);
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 12:00 UTC.
    const NOW: i64 = 1_796_040_000_000;

    fn dated(ats: &[i64]) -> Vec<Dated> {
        ats.iter().enumerate().map(|(i, &at)| Dated { at, current: i == 0 }).collect()
    }

    #[test]
    fn civil_months_and_years() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(-1), (1969, 12));
        assert_eq!(year_month(NOW / DAY), (2026, 11));
        assert_eq!(year_month(19_782), (2024, 2)); // 2024-02-29
        assert_eq!(year_month(19_783), (2024, 3));
        // 2026-11-30 is a Monday: the week starts that day.
        assert_ne!(Bucket::Week.key(NOW), Bucket::Week.key(NOW - DAY));
        assert_eq!(Bucket::Week.key(NOW), Bucket::Week.key(NOW + 6 * DAY));
    }

    #[test]
    fn the_default_keeps_a_month_then_one_a_day_for_a_year() {
        let p = Retention::default_policy();
        // Every hour for 400 days, newest first.
        let ats: Vec<i64> = (0..400 * 24).map(|h| NOW - h * HOUR).collect();
        let keep = p.keep(&dated(&ats), NOW);
        for (at, k) in ats.iter().zip(&keep) {
            let age_days = (NOW - at) / DAY;
            if age_days < 30 {
                assert!(k, "everything in the first 30 days");
            } else if age_days > 366 {
                assert!(!k, "nothing past a year: {age_days} days");
            }
        }
        // Between a month and a year: exactly one a day (the day's newest).
        let old: Vec<i64> = ats
            .iter()
            .zip(&keep)
            .filter(|(at, k)| **k && (NOW - **at) / DAY >= 31 && (NOW - **at) / DAY <= 364)
            .map(|(a, _)| *a)
            .collect();
        let days: std::collections::BTreeSet<i64> = old.iter().map(|a| a.div_euclid(DAY)).collect();
        assert_eq!(days.len(), old.len(), "one per day");
        assert!(
            old.iter().all(|a| a.rem_euclid(DAY) == 23 * HOUR),
            "the newest of the day (23:00 here, since NOW is noon)"
        );
    }

    #[test]
    fn counts_take_the_newest_of_each_bucket() {
        let p = Retention { keep_daily: Some(2), ..Default::default() };
        // Two versions today, two yesterday, one the day before.
        let ats = [NOW, NOW - HOUR, NOW - DAY, NOW - DAY - HOUR, NOW - 2 * DAY];
        let mut v = dated(&ats);
        v[0].current = false;
        assert_eq!(p.keep(&v, NOW), [true, false, true, false, false]);
        let p = Retention { keep_last: Some(3), ..Default::default() };
        assert_eq!(p.keep(&v, NOW), [true, true, true, false, false]);
    }

    #[test]
    fn the_current_version_is_always_kept() {
        let p = Retention { keep_last: Some(1), ..Default::default() };
        // A restore can leave an older timestamp current: still kept.
        let v = [Dated { at: NOW, current: false }, Dated { at: NOW - DAY, current: true }];
        assert_eq!(p.keep(&v, NOW), [true, true]);
    }

    #[test]
    fn policies_are_checked() {
        assert!(Retention::default().check().unwrap_err().contains("at least one"));
        assert!(Retention { keep_within: Some(u64::MAX), ..Default::default() }.check().is_err());
        assert!(Retention::default_policy().check().is_ok());
        assert_eq!(Retention::default_policy().trash_ms(), 365 * DAY);
        assert_eq!(Retention { keep_last: Some(3), ..Default::default() }.trash_ms(), 30 * DAY);
        // Huge spans never overflow.
        let p = Retention { keep_within: Some(MAX_SPAN_SECS), ..Default::default() };
        assert_eq!(p.keep(&dated(&[NOW, i64::MIN / 2]), NOW), [true, false]);
    }
}

//! Checking cron schedules before they reach pg_cron, whose own refusal is an internal error
//! (SQLSTATE XX000) without a hint.

use crate::error::{Error, Result};

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Accepts what pg_cron 1.4 accepts: five fields (minute hour day-of-month month
/// day-of-week) of `*`, numbers, ranges, steps and lists (month and day names allowed), or
/// one of @yearly, @annually, @monthly, @weekly, @daily, @hourly.
pub fn validate_cron(schedule: &str) -> Result<()> {
    let invalid = |why: String| {
        Error::invalid(format!("invalid schedule \"{schedule}\": {why}")).with_hint(
            "five fields: minute hour day-of-month month day-of-week, for example '0 3 * * 0' (Sundays at 03:00) or '@daily'",
        )
    };
    let s = schedule.trim();
    if s.starts_with('@') {
        return match s {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@hourly" => Ok(()),
            _ => Err(invalid(format!("unknown shorthand {s}"))),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(invalid(format!("{} field(s), expected 5", fields.len())));
    }
    let specs: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &MONTHS),
        ("day of week", 0, 7, &DAYS),
    ];
    for (field, (name, min, max, names)) in fields.iter().zip(specs) {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|n| n >= 1 && n <= max) {
                    return Err(invalid(format!("bad step \"{step}\" in the {name} field")));
                }
            }
            if range == "*" {
                continue;
            }
            let value = |v: &str| -> Option<u32> {
                v.parse::<u32>().ok().or_else(|| {
                    let offset = if names.len() == 12 { 1 } else { 0 };
                    names.iter().position(|n| n.eq_ignore_ascii_case(v)).map(|i| i as u32 + offset)
                })
            };
            let bounds: Vec<Option<u32>> = range.split('-').map(value).collect();
            let ok = match bounds.as_slice() {
                [Some(v)] => (min..=max).contains(v),
                [Some(a), Some(b)] => (min..=max).contains(a) && (min..=max).contains(b) && a <= b,
                _ => false,
            };
            if !ok {
                return Err(invalid(format!("\"{part}\" is not valid in the {name} field ({min}-{max})")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_pg_cron_accepts() {
        for ok in
            ["* * * * *", "0 3 * * 0", "*/5 0-6 1,15 jan-mar mon-fri", "30 2 * * 7", "@daily", "0 0 1 * *"]
        {
            assert!(validate_cron(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_with_the_reason() {
        for (bad, why) in [
            ("* * * *", "4 field(s)"),
            ("60 * * * *", "minute field"),
            ("* * * 13 *", "month field"),
            ("*/0 * * * *", "bad step"),
            ("5-1 * * * *", "\"5-1\""),
            ("@sometimes", "unknown shorthand"),
            ("30 seconds", "2 field(s)"),
        ] {
            let err = validate_cron(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
            assert!(err.hint().is_some());
        }
    }
}

//! Which predictions are logged. A project's settings give two rates: `sample` for the first
//! `scan_after` predictions of a statement (online traffic: one row per statement, all of it
//! logged by default) and `scan_sample` for the rest of a statement (a scan of a table: 100 +
//! 0.1 % of a 1,000,000-row scan is about 1,100 records, not 1,000,000). A logged record keeps
//! the features with probability `features_sample`. Each record's weight is 1 / its rate, so
//! counts and metrics computed from the log estimate the whole traffic.

use crate::error::{Error, Result};
use crate::monitoring::RequestIds;

/// A project's logging settings (`pgml.set_monitoring`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub enabled: bool,
    pub sample: f64,
    pub scan_after: u32,
    pub scan_sample: f64,
    pub features_sample: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { enabled: true, sample: 1.0, scan_after: 100, scan_sample: 0.001, features_sample: 0.01 }
    }
}

impl Settings {
    /// Checks each rate is in [0, 1].
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("sample", self.sample),
            ("scan_sample", self.scan_sample),
            ("features_sample", self.features_sample),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(format!("{name} must be between 0 and 1, not {v}"))
                    .with_hint("a rate is the share of predictions logged: 1 logs all, 0 none"));
            }
        }
        Ok(())
    }
}

/// What sampling decided for one prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// 1 / the rate the record was drawn at.
    pub weight: f32,
    pub keep_features: bool,
}

/// Per process: counts the predictions of the running statement.
#[derive(Debug, Clone, Default)]
pub struct Sampler {
    statement: (i64, u32),
    in_statement: u32,
    /// Predictions of the scan to pass over before the next logged one: drawn once per logged
    /// prediction (geometric), so a scan's unlogged rows cost a decrement, not a random draw.
    skip: Option<u64>,
}

/// Failures before the first success of trials of probability `rate` (inverse transform).
fn geometric(rate: f64, draws: &mut RequestIds) -> u64 {
    let u = 1.0 - draws.next_f64(); // in (0, 1]
    (u.ln() / (1.0 - rate).ln()).floor().min(u64::MAX as f64) as u64
}

impl Sampler {
    /// Whether to log the next prediction of `statement` (any value that changes from one
    /// statement to the next), and how.
    pub fn decide(
        &mut self,
        settings: &Settings,
        statement: (i64, u32),
        draws: &mut RequestIds,
    ) -> Option<Decision> {
        if !settings.enabled {
            return None;
        }
        if statement != self.statement {
            self.statement = statement;
            self.in_statement = 0;
            self.skip = None;
        }
        self.in_statement = self.in_statement.saturating_add(1);
        let online = self.in_statement <= settings.scan_after;
        let rate = if online { settings.sample } else { settings.scan_sample };
        if rate <= 0.0 {
            return None;
        }
        if rate < 1.0 && online && draws.next_f64() >= rate {
            return None;
        }
        if rate < 1.0 && !online {
            let skip = self.skip.get_or_insert_with(|| geometric(rate, draws));
            if *skip > 0 {
                *skip -= 1;
                return None;
            }
            self.skip = Some(geometric(rate, draws));
        }
        let keep_features = settings.features_sample >= 1.0
            || (settings.features_sample > 0.0 && draws.next_f64() < settings.features_sample);
        Some(Decision { weight: (1.0 / rate) as f32, keep_features })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_traffic_is_all_logged_and_a_large_scan_is_sampled() {
        let settings = Settings::default();
        let mut sampler = Sampler::default();
        let mut draws = RequestIds::new(1);
        // 1,000 statements of one prediction each
        let online = (0..1000).filter(|i| sampler.decide(&settings, (*i, 0), &mut draws).is_some()).count();
        assert_eq!(online, 1000);
        // one statement of 1,000,000 predictions
        let scan: Vec<Decision> =
            (0..1_000_000).filter_map(|_| sampler.decide(&settings, (5000, 0), &mut draws)).collect();
        assert!((1000..1200).contains(&scan.len()), "{}", scan.len());
        // the weights add up to the traffic, within sampling error
        let total: f64 = scan.iter().map(|d| d.weight as f64).sum();
        assert!((total - 1_000_000.0).abs() < 100_000.0, "{total}");
        let with_features = scan.iter().filter(|d| d.keep_features).count();
        assert!(with_features < 40, "{with_features}");
    }

    #[test]
    fn rates_outside_0_1_are_refused_and_0_logs_nothing() {
        let bad = Settings { sample: 1.5, ..Settings::default() };
        assert!(bad.check().unwrap_err().to_string().contains("sample must be between 0 and 1, not 1.5"));
        let none = Settings { sample: 0.0, scan_sample: 0.0, ..Settings::default() };
        let mut sampler = Sampler::default();
        let mut draws = RequestIds::new(1);
        assert!((0..100).all(|i| sampler.decide(&none, (i, 0), &mut draws).is_none()));
        let off = Settings { enabled: false, ..Settings::default() };
        assert!(sampler.decide(&off, (0, 1), &mut draws).is_none());
    }
}

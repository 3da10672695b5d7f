//! Data drift: reference statistics kept from the training rows, and the comparison of a
//! current sample against them (PSI, two-sample Kolmogorov–Smirnov, Jensen–Shannon).
//!
//! Defaults follow Evidently: a numeric feature drifts when the KS p-value is below 0.05, a
//! categorical one when the Jensen–Shannon distance reaches 0.1, and the dataset drifts when
//! at least half of its features do. PSI and JS use 10 bins at the reference's deciles and
//! clip empty bins to 0.0001, as Evidently does.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reference values kept per numeric feature: all of them up to this many, otherwise this
/// many quantiles (so the KS statistic is exact for small training sets and approximate,
/// within 1/SAMPLE, for large ones).
const SAMPLE: usize = 1000;
const BINS: usize = 10;
/// Evidently's floor for empty bins in PSI and JS.
const EMPTY_BIN: f64 = 0.0001;

/// Which statistic decides whether a feature drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Ks,
    Psi,
    Js,
}

/// Drift thresholds; every field has Evidently's default and may be overridden per project
/// and per call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// A feature drifts when PSI reaches this (method `psi`).
    pub psi: f64,
    /// A feature drifts when the KS p-value is below this (method `ks`).
    pub ks_p_value: f64,
    /// A feature drifts when the Jensen–Shannon distance reaches this (method `js`).
    pub js: f64,
    /// The dataset drifts when at least this share of its features drift.
    pub share: f64,
    pub numeric_method: Method,
    pub categorical_method: Method,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            psi: 0.1,
            ks_p_value: 0.05,
            js: 0.1,
            share: 0.5,
            numeric_method: Method::Ks,
            categorical_method: Method::Js,
        }
    }
}

impl Thresholds {
    /// These thresholds with the keys of a JSON object applied on top.
    pub fn merged(&self, overrides: &serde_json::Value) -> Result<Thresholds> {
        let mut base = serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))?;
        match overrides {
            serde_json::Value::Null => {}
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    base[k] = v.clone();
                }
            }
            other => {
                return Err(Error::invalid(format!("drift thresholds must be a JSON object, got {other}")))
            }
        }
        let t: Thresholds = serde_json::from_value(base)
            .map_err(|e| Error::invalid(format!("invalid drift thresholds: {e}")))?;
        if t.categorical_method == Method::Ks {
            return Err(Error::invalid("categorical_method cannot be ks: KS compares numeric distributions")
                .with_hint("use js or psi"));
        }
        if t.psi.is_nan() || t.psi < 0.0 {
            return Err(Error::invalid(format!("drift threshold psi must be at least 0, got {}", t.psi)));
        }
        for (name, v) in [("ks_p_value", t.ks_p_value), ("js", t.js), ("share", t.share)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(format!(
                    "drift threshold {name} must be between 0 and 1, got {v}"
                )));
            }
        }
        Ok(t)
    }
}

/// Statistics of one feature's reference (training) values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReference {
    pub name: String,
    pub rows: u64,
    pub missing: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericReference>,
    /// Category → count, for categorical features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<BTreeMap<String, u64>>,
}

/// A numeric reference: sorted values (or quantiles), decile bin edges and bin shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericReference {
    /// Stored packed (see `packed`); references written as a JSON array of numbers still load.
    #[serde(with = "packed")]
    pub sample: Vec<f32>,
    pub edges: Vec<f32>,
    pub shares: Vec<f64>,
}

/// A reference sample as one JSON string, the base64 of its little-endian float32 values,
/// rather than an array of up to 1,001 numbers: PostgreSQL's jsonb parses each number into a
/// `numeric`, which made storing a 20-feature reference take 4 ms of every training.
mod packed {
    use serde::{Deserialize, Deserializer, Serializer};

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
            for i in 0..4 {
                let c = if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' };
                text.push(c as char);
            }
        }
        s.serialize_str(&text)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Packed(String),
        Numbers(Vec<f32>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let text = match Stored::deserialize(d)? {
            Stored::Numbers(values) => return Ok(values),
            Stored::Packed(text) => text,
        };
        let bad = || serde::de::Error::custom("a drift reference sample is not base64 of float32 values");
        let digit = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|d| d as u32);
        let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
        for quad in text.as_bytes().chunks(4) {
            let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
            if quad.len() != 4 || pad > 2 {
                return Err(bad());
            }
            let mut n = 0;
            for &c in &quad[..4 - pad] {
                n = n << 6 | digit(c).ok_or_else(bad)?;
            }
            n <<= 6 * pad;
            bytes.extend([(n >> 16) as u8, (n >> 8) as u8, n as u8].into_iter().take(3 - pad));
        }
        if bytes.len() % 4 != 0 {
            return Err(bad());
        }
        Ok(bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

/// Current values of a feature: numbers (NaN = missing) or categories (None = missing).
pub enum Current<'a> {
    Numeric(&'a [f32]),
    Categorical(&'a [Option<String>]),
}

/// The comparison of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    pub name: String,
    pub kind: &'static str,
    pub reference_rows: u64,
    pub current_rows: u64,
    pub reference_missing_rate: f64,
    pub current_missing_rate: f64,
    pub psi: f64,
    pub ks_statistic: Option<f64>,
    pub ks_p_value: Option<f64>,
    pub js_distance: f64,
    pub drifted: bool,
}

/// The reference of a numeric feature (NaN values count as missing).
pub fn numeric_reference(name: &str, values: &[f32]) -> FeatureReference {
    numeric_reference_in(name, values, &mut SortBuffers::default())
}

/// The buffers a numeric reference sorts in, kept from one column to the next: a caller
/// that allocates them once, on its own thread, leaves no column-sized allocations behind in
/// its workers' malloc arenas (which keep freed memory under what outlives it).
#[derive(Default)]
pub struct SortBuffers {
    present: Vec<f32>,
    keys: Vec<u32>,
    scratch: Vec<u32>,
}

impl SortBuffers {
    pub fn with_capacity(n: usize) -> SortBuffers {
        SortBuffers {
            present: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            scratch: Vec::with_capacity(n),
        }
    }

    /// The values that are not NaN, sorted in `f32::total_cmp` order.
    fn sorted_present(&mut self, values: &[f32]) -> &[f32] {
        self.present.clear();
        self.present.extend(values.iter().copied().filter(|v| !v.is_nan()));
        sort_floats(&mut self.present, &mut self.keys, &mut self.scratch);
        &self.present
    }
}

/// `numeric_reference`, sorting in `buffers`.
pub fn numeric_reference_in(name: &str, values: &[f32], buffers: &mut SortBuffers) -> FeatureReference {
    let present = buffers.sorted_present(values);
    let missing = (values.len() - present.len()) as u64;
    let numeric = (!present.is_empty()).then(|| {
        let mut edges: Vec<f32> = (1..BINS).map(|i| quantile(present, i as f64 / BINS as f64)).collect();
        edges.dedup();
        let shares = sorted_bin_shares(present, &edges);
        let sample = if present.len() <= SAMPLE {
            present.to_vec()
        } else {
            (0..=SAMPLE).map(|i| quantile(present, i as f64 / SAMPLE as f64)).collect()
        };
        NumericReference { sample, edges, shares }
    });
    FeatureReference { name: name.into(), rows: values.len() as u64, missing, numeric, categorical: None }
}

/// The reference of a categorical feature.
pub fn categorical_reference(name: &str, values: &[Option<String>]) -> FeatureReference {
    let mut counts = BTreeMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v.clone()).or_insert(0) += 1;
    }
    let missing = values.iter().filter(|v| v.is_none()).count() as u64;
    FeatureReference {
        name: name.into(),
        rows: values.len() as u64,
        missing,
        numeric: None,
        categorical: Some(counts),
    }
}

/// Sorts floats in `f32::total_cmp` order by a three-pass radix sort of their ordered bit
/// patterns: a training's references sort every feature's column, and comparison sorts took a
/// third of a least-squares training's time.
fn sort_floats(values: &mut [f32], keys: &mut Vec<u32>, scratch: &mut Vec<u32>) {
    if values.len() < 256 {
        values.sort_unstable_by(f32::total_cmp);
        return;
    }
    // total_cmp's key: negative numbers have every bit flipped, the others only the sign bit
    let key = |v: f32| {
        let bits = v.to_bits();
        bits ^ (((bits as i32 >> 31) as u32) | 0x8000_0000)
    };
    keys.clear();
    keys.extend(values.iter().map(|&v| key(v)));
    scratch.clear();
    scratch.resize(keys.len(), 0);
    for shift in [0, 11, 22] {
        let mut offsets = [0usize; 2048];
        for &k in keys.iter() {
            offsets[(k >> shift & 2047) as usize] += 1;
        }
        let mut total = 0;
        for o in offsets.iter_mut() {
            (*o, total) = (total, total + *o);
        }
        for &k in keys.iter() {
            let bucket = &mut offsets[(k >> shift & 2047) as usize];
            scratch[*bucket] = k;
            *bucket += 1;
        }
        std::mem::swap(keys, scratch);
    }
    for (v, k) in values.iter_mut().zip(keys.iter()) {
        // the key's top bit is set for non-negative numbers
        let bits = if k & 0x8000_0000 != 0 { k ^ 0x8000_0000 } else { !k };
        *v = f32::from_bits(bits);
    }
}

/// Linear-interpolated quantile of sorted values (numpy's default).
fn quantile(sorted: &[f32], q: f64) -> f32 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let w = pos - lo as f64;
    (sorted[lo] as f64 * (1.0 - w) + sorted[hi] as f64 * w) as f32
}

/// Shares of sorted values in the bins (-inf, e1], (e1, e2], …, (ek, inf): each bin's count
/// is the distance between two edges' positions, without a search per value.
fn sorted_bin_shares(sorted: &[f32], edges: &[f32]) -> Vec<f64> {
    let n = sorted.len().max(1) as f64;
    let mut below = 0;
    let mut shares: Vec<f64> = edges
        .iter()
        .map(|e| {
            let upto = sorted.partition_point(|v| v <= e);
            let share = (upto - below) as f64 / n;
            below = upto;
            share
        })
        .collect();
    shares.push((sorted.len() - below) as f64 / n);
    shares
}

fn clip(shares: &[f64]) -> Vec<f64> {
    shares.iter().map(|&s| if s == 0.0 { EMPTY_BIN } else { s }).collect()
}

/// Population stability index of two distributions over the same bins (empty bins clipped).
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    clip(reference).iter().zip(clip(current)).map(|(r, c)| (c - r) * (c / r).ln()).sum()
}

/// Jensen–Shannon distance (natural log, as scipy's `jensenshannon`), after clipping empty bins.
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let (p, q) = (clip(p), clip(q));
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let mut js = 0.0;
    for (a, b) in p.iter().zip(&q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        js += a * (a / m).ln() + b * (b / m).ln();
    }
    (js / 2.0).max(0.0).sqrt()
}

/// The two-sample KS statistic: the largest distance between the two empirical CDFs.
pub fn ks_statistic(a: &[f32], b: &[f32]) -> f64 {
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    let (n, m) = (a.len() as f64, b.len() as f64);
    while i < a.len() && j < b.len() {
        let v = if a[i] <= b[j] { a[i] } else { b[j] };
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

/// P-value of the two-sample KS statistic `d` as scipy's `ks_2samp(method="asymp")`: the
/// one-sample Kolmogorov distribution at n = round(n1·n2 / (n1 + n2)).
pub fn ks_p_value(d: f64, n1: u64, n2: u64) -> f64 {
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round().max(1.0);
    kolmogorov_sf(d, en as u64)
}

/// P(D_n >= d) for the one-sample Kolmogorov statistic: exact (Marsaglia, Tsang & Wang 2003)
/// where the matrix stays small, Stephens' approximation of the limiting law otherwise.
fn kolmogorov_sf(d: f64, n: u64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let k = (nf * d).floor() as usize + 1;
    if n <= 140 || 2 * k - 1 <= 160 {
        (1.0 - mtw_cdf(d, n)).clamp(0.0, 1.0)
    } else {
        let sqrt_n = nf.sqrt();
        kolmogorov_limit_sf((sqrt_n + 0.12 + 0.11 / sqrt_n) * d)
    }
}

/// Q(x) = 2 Σ (-1)^(j-1) e^(-2 j² x²), the limiting Kolmogorov survival function.
fn kolmogorov_limit_sf(x: f64) -> f64 {
    if x < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = (-2.0 * (j * j) as f64 * x * x).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// P(D_n < d) by Marsaglia, Tsang & Wang's matrix method, with explicit exponent tracking.
fn mtw_cdf(d: f64, n: u64) -> f64 {
    let nf = n as f64;
    let k = (nf * d).floor() as usize + 1;
    let m = 2 * k - 1;
    let h = k as f64 - nf * d;
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            if i + 1 >= j {
                hm[i * m + j] = 1.0;
            }
        }
    }
    for i in 0..m {
        hm[i * m] -= h.powi(i as i32 + 1);
        hm[(m - 1) * m + i] -= h.powi((m - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        hm[(m - 1) * m] += (2.0 * h - 1.0).powi(m as i32);
    }
    for i in 0..m {
        for j in 0..m {
            if i + 1 > j {
                for g in 1..=(i + 1 - j) {
                    hm[i * m + j] /= g as f64;
                }
            }
        }
    }
    let (q, mut exponent) = matrix_power(&hm, m, n);
    let mut s = q[(k - 1) * m + (k - 1)];
    for i in 1..=n {
        s *= i as f64 / nf;
        if s < 1e-140 {
            s *= 1e140;
            exponent -= 140;
        }
    }
    s * 10f64.powi(exponent)
}

/// `a^n` for an m×m matrix, rescaled by 1e140 steps; returns the matrix and its decimal exponent.
fn matrix_power(a: &[f64], m: usize, n: u64) -> (Vec<f64>, i32) {
    let mul = |x: &[f64], y: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for l in 0..m {
                let xil = x[i * m + l];
                if xil != 0.0 {
                    for j in 0..m {
                        out[i * m + j] += xil * y[l * m + j];
                    }
                }
            }
        }
        out
    };
    if n == 1 {
        return (a.to_vec(), 0);
    }
    let (half, e) = matrix_power(a, m, n / 2);
    let mut v = mul(&half, &half);
    let mut exponent = 2 * e;
    if n % 2 == 1 {
        v = mul(a, &v);
    }
    if v[(m / 2) * m + m / 2] > 1e140 {
        v.iter_mut().for_each(|x| *x *= 1e-140);
        exponent += 140;
    }
    (v, exponent)
}

/// Compares current values with a feature's reference.
pub fn compare(reference: &FeatureReference, current: Current, t: &Thresholds) -> Result<FeatureDrift> {
    let (rows, missing) = match &current {
        Current::Numeric(v) => (v.len(), v.iter().filter(|x| x.is_nan()).count()),
        Current::Categorical(v) => (v.len(), v.iter().filter(|x| x.is_none()).count()),
    };
    let rate = |missing: u64, rows: u64| if rows == 0 { 0.0 } else { missing as f64 / rows as f64 };
    let mut drift = FeatureDrift {
        name: reference.name.clone(),
        kind: "numeric",
        reference_rows: reference.rows,
        current_rows: rows as u64,
        reference_missing_rate: rate(reference.missing, reference.rows),
        current_missing_rate: rate(missing as u64, rows as u64),
        psi: f64::NAN,
        ks_statistic: None,
        ks_p_value: None,
        js_distance: f64::NAN,
        // a feature with no current values at all has drifted away
        drifted: rows > missing,
    };
    match (current, &reference.numeric, &reference.categorical) {
        (Current::Numeric(values), Some(r), _) => {
            let mut buffers = SortBuffers::default();
            let present = buffers.sorted_present(values);
            if present.is_empty() {
                drift.drifted = true;
                return Ok(drift);
            }
            let shares = sorted_bin_shares(present, &r.edges);
            drift.psi = psi(&r.shares, &shares);
            drift.js_distance = js_distance(&r.shares, &shares);
            let d = ks_statistic(&r.sample, present);
            let reference_n = reference.rows - reference.missing;
            drift.ks_statistic = Some(d);
            drift.ks_p_value = Some(ks_p_value(d, reference_n, present.len() as u64));
            drift.drifted = decide(t.numeric_method, &drift, t);
        }
        (Current::Categorical(values), _, Some(r)) => {
            drift.kind = "categorical";
            let mut current: BTreeMap<&str, f64> = BTreeMap::new();
            for v in values.iter().flatten() {
                *current.entry(v.as_str()).or_insert(0.0) += 1.0;
            }
            let present: f64 = current.values().sum();
            if present == 0.0 {
                drift.drifted = true;
                return Ok(drift);
            }
            let reference_n: f64 = r.values().sum::<u64>().max(1) as f64;
            let mut categories: Vec<&str> = r.keys().map(String::as_str).collect();
            categories.extend(current.keys().copied().filter(|c| !r.contains_key(*c)));
            let ref_shares: Vec<f64> =
                categories.iter().map(|c| r.get(*c).copied().unwrap_or(0) as f64 / reference_n).collect();
            let cur_shares: Vec<f64> =
                categories.iter().map(|c| current.get(c).copied().unwrap_or(0.0) / present).collect();
            drift.psi = psi(&ref_shares, &cur_shares);
            drift.js_distance = js_distance(&ref_shares, &cur_shares);
            drift.drifted = decide(t.categorical_method, &drift, t);
        }
        _ => {
            return Err(Error::data(format!(
                "feature \"{}\" is numeric in one sample and categorical in the other",
                reference.name
            )))
        }
    }
    Ok(drift)
}

fn decide(method: Method, d: &FeatureDrift, t: &Thresholds) -> bool {
    match method {
        Method::Ks => d.ks_p_value.is_some_and(|p| p < t.ks_p_value),
        Method::Psi => d.psi >= t.psi,
        Method::Js => d.js_distance >= t.js,
    }
}

/// The share of drifted features and whether the dataset drifted.
pub fn dataset_drift(features: &[FeatureDrift], t: &Thresholds) -> (f64, bool) {
    if features.is_empty() {
        return (0.0, false);
    }
    let share = features.iter().filter(|f| f.drifted).count() as f64 / features.len() as f64;
    (share, share >= t.share)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic samples: 60 and 80 values spread over [0, 10), and 45 shifted by 1.5.
    fn a() -> Vec<f32> {
        (0..60).map(|i| ((i * 37) % 100) as f32 / 10.0).collect()
    }
    fn shifted() -> Vec<f32> {
        (0..45).map(|i| ((i * 53) % 100) as f32 / 10.0 + 1.5).collect()
    }
    fn same() -> Vec<f32> {
        (0..80).map(|i| ((i * 41) % 100) as f32 / 10.0).collect()
    }

    fn sorted(mut v: Vec<f32>) -> Vec<f32> {
        v.sort_by(f32::total_cmp);
        v
    }

    #[test]
    fn the_radix_sort_orders_as_total_cmp() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut values: Vec<f32> = (0..5000)
            .map(|i| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                match i % 50 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f32::NEG_INFINITY,
                    3 => f32::INFINITY,
                    4 => f32::MIN_POSITIVE / 4.0,
                    5 => -3.5,
                    _ => {
                        f32::from_bits(rng as u32 & 0x7fff_ffff).min(1e30)
                            * if rng >> 40 & 1 == 1 { -1.0 } else { 1.0 }
                    }
                }
            })
            .filter(|v| !v.is_nan())
            .collect();
        let mut expected = values.clone();
        expected.sort_unstable_by(f32::total_cmp);
        sort_floats(&mut values, &mut Vec::new(), &mut Vec::new());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&values), bits(&expected));
    }

    #[test]
    fn a_reference_sample_is_stored_packed_and_read_back_exactly() {
        for n in 0..6 {
            let sample: Vec<f32> = [1.5, -0.0, f32::MAX, 1e-30, -7.25, f32::INFINITY][..n].to_vec();
            let reference =
                NumericReference { sample: sample.clone(), edges: vec![1.0], shares: vec![0.5, 0.5] };
            let json = serde_json::to_value(&reference).unwrap();
            assert!(json["sample"].is_string(), "{json}");
            let back: NumericReference = serde_json::from_value(json).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back.sample), bits(&sample), "{n} values");
        }
        // 1.0f32 is 00 00 80 3f: "AACAPw==" in base64
        let json =
            serde_json::to_value(NumericReference { sample: vec![1.0], edges: vec![], shares: vec![] });
        assert_eq!(json.unwrap()["sample"], "AACAPw==");
        // references stored before, with the sample as numbers, still load
        let old: NumericReference =
            serde_json::from_str(r#"{"sample": [1.0, 2.5], "edges": [2.0], "shares": [0.5, 0.5]}"#).unwrap();
        assert_eq!(old.sample, vec![1.0, 2.5]);
        for bad in [r#""AAC""#, r#""AA*A""#, r#""AAAA""#] {
            let json = format!(r#"{{"sample": {bad}, "edges": [], "shares": []}}"#);
            assert!(serde_json::from_str::<NumericReference>(&json).is_err(), "{bad}");
        }
    }

    /// The bin shares by a search per value, in any order: what `sorted_bin_shares` computes.
    fn bin_shares(values: &[f32], edges: &[f32]) -> Vec<f64> {
        let mut counts = vec![0.0; edges.len() + 1];
        for v in values {
            counts[edges.partition_point(|e| e < v)] += 1.0;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c / n).collect()
    }

    #[test]
    fn sorted_bin_shares_equal_the_search_per_value() {
        // ties on the edges: 0..10 repeated, edges at some of the values and between them
        let values = sorted((0..200).map(|i| ((i * 7) % 10) as f32).collect());
        for edges in [vec![2.0, 5.0, 7.5], vec![0.0, 9.0], vec![-1.0, 3.0, 3.5, 10.0], vec![]] {
            assert_eq!(sorted_bin_shares(&values, &edges), bin_shares(&values, &edges), "{edges:?}");
        }
    }

    #[test]
    fn ks_matches_scipy() {
        // scipy.stats.ks_2samp(a, shifted, method="asymp"): D 0.16666666666666666, p 0.41980043290458424
        let d = ks_statistic(&sorted(a()), &sorted(shifted()));
        assert!((d - 0.166_666_666_666_666_66).abs() < 1e-12, "{d}");
        let p = ks_p_value(d, 60, 45);
        assert!((p - 0.419_800_432_904_584_24).abs() < 1e-9, "{p}");
        // ks_2samp(a, same, method="asymp"): D 0.025, p 1.0
        let d = ks_statistic(&sorted(a()), &sorted(same()));
        assert!((d - 0.025).abs() < 1e-9, "{d}");
        assert!((ks_p_value(d, 60, 80) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn kolmogorov_distribution_matches_scipy_kstwo() {
        // scipy.stats.kstwo.sf(d, n)
        for (d, n, expected, tolerance) in [
            (0.2, 30, 0.157_969_161_015_473_98, 1e-9),
            (0.1, 100, 0.252_692_757_006_387_4, 1e-9),
            (0.05, 400, 0.261_212_446_071_291_24, 1e-6),
            // beyond the exact method: Stephens' approximation, within 2 %
            (0.02, 5000, 0.036_139_413_953_256_37, 0.036 * 0.02),
        ] {
            let p = kolmogorov_sf(d, n);
            assert!((p - expected).abs() < tolerance, "kstwo.sf({d}, {n}) = {expected}, got {p}");
        }
    }

    #[test]
    fn psi_and_js_match_reference_formulas() {
        let (p, q) = ([0.1, 0.2, 0.3, 0.4], [0.25; 4]);
        // scipy.spatial.distance.jensenshannon(p, q) = 0.16692996572597962
        assert!((js_distance(&p, &q) - 0.166_929_965_725_979_62).abs() < 1e-12);
        // sum((q - p) * ln(q / p)) = 0.22821740957339184
        assert!((psi(&p, &q) - 0.228_217_409_573_391_84).abs() < 1e-12);
        assert_eq!(psi(&p, &p), 0.0);
    }

    #[test]
    fn the_same_distribution_does_not_drift() {
        let reference = numeric_reference("x", &a());
        let d = compare(&reference, Current::Numeric(&same()), &Thresholds::default()).unwrap();
        assert!(!d.drifted, "{d:?}");
        assert!(d.psi < 0.1, "{d:?}");
    }

    #[test]
    fn shifted_and_rescaled_data_drift() {
        let train: Vec<f32> = (0..500).map(|i| ((i * 7919) % 1000) as f32 / 100.0).collect();
        let reference = numeric_reference("x", &train);
        let t = Thresholds::default();
        let shifted: Vec<f32> = train.iter().map(|v| v + 2.0).collect();
        let rescaled: Vec<f32> = train.iter().map(|v| v * 1.5).collect();
        for current in [shifted, rescaled] {
            let d = compare(&reference, Current::Numeric(&current), &t).unwrap();
            assert!(d.drifted && d.ks_p_value.unwrap() < 1e-6 && d.psi > 0.1, "{d:?}");
        }
    }

    #[test]
    fn categorical_drift_uses_jensen_shannon() {
        let cats = |n_a: usize, n_b: usize, n_c: usize| -> Vec<Option<String>> {
            let mut v = vec![Some("a".to_string()); n_a];
            v.extend(vec![Some("b".to_string()); n_b]);
            v.extend(vec![Some("c".to_string()); n_c]);
            v
        };
        let reference = categorical_reference("colour", &cats(50, 30, 20));
        let t = Thresholds::default();
        let same = compare(&reference, Current::Categorical(&cats(100, 60, 40)), &t).unwrap();
        assert!(!same.drifted && same.js_distance < 1e-6, "{same:?}");
        let moved = compare(&reference, Current::Categorical(&cats(10, 30, 60)), &t).unwrap();
        assert!(moved.drifted && moved.js_distance > 0.1, "{moved:?}");
        assert_eq!(moved.kind, "categorical");
        assert!(moved.ks_p_value.is_none());
    }

    #[test]
    fn missing_values_are_reported_and_left_out() {
        let reference = numeric_reference("x", &a());
        let mut current = a();
        current.extend(vec![f32::NAN; 60]);
        let d = compare(&reference, Current::Numeric(&current), &Thresholds::default()).unwrap();
        assert_eq!((d.reference_missing_rate, d.current_missing_rate), (0.0, 0.5));
        assert!(!d.drifted, "the present values are the reference's: {d:?}");
        let gone = compare(&reference, Current::Numeric(&[f32::NAN; 10]), &Thresholds::default()).unwrap();
        assert!(gone.drifted && gone.psi.is_nan());
    }

    #[test]
    fn dataset_drift_needs_half_of_the_features() {
        let reference = numeric_reference("x", &a());
        let t = Thresholds::default();
        let ok = compare(&reference, Current::Numeric(&same()), &t).unwrap();
        let bad = FeatureDrift { drifted: true, ..ok.clone() };
        assert_eq!(dataset_drift(&[ok.clone(), bad.clone()], &t), (0.5, true));
        assert!(!dataset_drift(&[ok.clone(), ok, bad], &t).1);
    }

    #[test]
    fn thresholds_merge_and_validate() {
        let t = Thresholds::default().merged(&serde_json::json!({"ks_p_value": 0.01, "share": 0.3})).unwrap();
        assert_eq!((t.ks_p_value, t.share, t.psi), (0.01, 0.3, 0.1));
        assert!(Thresholds::default().merged(&serde_json::json!({"kss": 0.1})).is_err());
        assert!(Thresholds::default().merged(&serde_json::json!({"share": 2})).is_err());
        assert!(Thresholds::default().merged(&serde_json::json!({"categorical_method": "ks"})).is_err());
    }

    #[test]
    fn large_references_keep_a_quantile_sketch() {
        let train: Vec<f32> = (0..50_000).map(|i| ((i * 7919) % 50_000) as f32).collect();
        let r = numeric_reference("x", &train);
        let n = r.numeric.as_ref().unwrap();
        assert_eq!(n.sample.len(), SAMPLE + 1);
        assert_eq!(n.edges.len(), BINS - 1);
        assert!(n.shares.iter().all(|s| (s - 0.1).abs() < 0.001), "{:?}", n.shares);
    }
}

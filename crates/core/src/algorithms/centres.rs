//! Clusterings that end in a set of centres, new rows joining the nearest:
//! `mean_shift` (scikit-learn's `MeanShift`: flat kernel from every row, bandwidth estimated
//! at the 0.3 quantile of neighbour distances) and `affinity_propagation`
//! (`AffinityPropagation`: negative squared distances, median preference, damping 0.5).

use super::kernel::check_rows;
use super::kmeans::{sq_dist, KMeans};
use super::{check_positive, check_range, Model, TrainContext};
use crate::data::Matrix;
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MeanShiftParams {
    #[serde(default)]
    bandwidth: Option<f64>,
    #[serde(default = "three_hundred")]
    max_iter: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AffinityParams {
    #[serde(default = "half")]
    damping: f64,
    #[serde(default = "two_hundred")]
    max_iter: usize,
    #[serde(default = "fifteen")]
    convergence_iter: usize,
    #[serde(default)]
    preference: Option<f64>,
    #[serde(default)]
    random_state: Option<u64>,
}

fn three_hundred() -> usize {
    300
}
fn half() -> f64 {
    0.5
}
fn two_hundred() -> usize {
    200
}
fn fifteen() -> usize {
    15
}

impl MeanShiftParams {
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(b) = self.bandwidth {
            check_positive("bandwidth", b)?;
        }
        check_range("max_iter", self.max_iter, 1, 100_000)
    }
}

impl AffinityParams {
    pub(super) fn validate(&self) -> Result<()> {
        if !(0.5..1.0).contains(&self.damping) {
            return Err(Error::invalid(format!(
                "hyperparameter damping must be in [0.5, 1), got {}",
                self.damping
            )));
        }
        check_range("max_iter", self.max_iter, 1, 100_000)?;
        check_range("convergence_iter", self.convergence_iter, 1, 100_000)
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let v: f64 = rng.gen();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// scikit-learn's `estimate_bandwidth(quantile=0.3)`: the mean distance from each row to its
/// k-th nearest row (itself included), k = 0.3 n. All pairs: `interrupt` between rows.
fn estimate_bandwidth(x: &Matrix, interrupt: &dyn Fn()) -> f64 {
    let n = x.rows;
    let k = ((n as f64 * 0.3) as usize).max(1);
    let mut total = 0.0;
    let mut d = Vec::with_capacity(n);
    for i in 0..n {
        interrupt();
        d.clear();
        d.extend((0..n).map(|j| sq_dist(x.row(i), x.row(j))));
        d.select_nth_unstable_by(k - 1, f64::total_cmp);
        total += d[k - 1].sqrt();
    }
    total / n as f64
}

pub(super) fn train_mean_shift(
    p: MeanShiftParams,
    x: &Matrix,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    let (n, cols) = (x.rows, x.cols);
    let bandwidth = match p.bandwidth {
        Some(b) => b,
        None => estimate_bandwidth(x, ctx.interrupt),
    };
    if bandwidth <= 0.0 {
        return Err(Error::data("mean_shift: every row is the same point; the bandwidth is 0")
            .with_hint("pass hyperparams => '{\"bandwidth\": ...}'"));
    }
    let radius2 = bandwidth * bandwidth;
    // (centre, rows within the bandwidth) per seed
    let mut modes: Vec<(Vec<f64>, usize)> = Vec::new();
    for seed in 0..n {
        (ctx.on_step)();
        let mut centre: Vec<f64> = x.row(seed).iter().map(|&v| v as f64).collect();
        let mut within = 0;
        for _ in 0..p.max_iter {
            (ctx.interrupt)();
            let mut sum = vec![0.0; cols];
            within = 0;
            for i in 0..n {
                let row = x.row(i);
                let d: f64 = row.iter().zip(&centre).map(|(a, c)| (*a as f64 - c).powi(2)).sum();
                if d <= radius2 {
                    within += 1;
                    for (s, a) in sum.iter_mut().zip(row) {
                        *s += *a as f64;
                    }
                }
            }
            if within == 0 {
                break;
            }
            let next: Vec<f64> = sum.iter().map(|s| s / within as f64).collect();
            let shift: f64 = next.iter().zip(&centre).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            centre = next;
            if shift < 1e-3 * bandwidth {
                break;
            }
        }
        if within > 0 {
            modes.push((centre, within));
        }
    }
    // The most populated modes first; a mode within the bandwidth of a kept one is merged.
    modes.sort_by(|a, b| {
        b.1.cmp(&a.1).then_with(|| {
            b.0.iter().zip(&a.0).fold(std::cmp::Ordering::Equal, |o, (x, y)| o.then(x.total_cmp(y)))
        })
    });
    let mut kept: Vec<Vec<f64>> = Vec::new();
    for (centre, _) in modes {
        let near =
            kept.iter().any(|k| k.iter().zip(&centre).map(|(a, b)| (a - b).powi(2)).sum::<f64>() < radius2);
        if !near {
            kept.push(centre);
        }
    }
    let centers = kept.iter().flatten().map(|&v| v as f32).collect();
    Ok(Box::new(KMeans::from_centers(centers, cols)))
}

pub(super) fn train_affinity(
    p: AffinityParams,
    x: &Matrix,
    ctx: &mut TrainContext,
) -> Result<Box<dyn Model>> {
    check_rows("affinity_propagation", x.rows)?;
    let n = x.rows;
    let mut s = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = -sq_dist(x.row(i), x.row(j));
        }
    }
    let preference = p.preference.unwrap_or_else(|| {
        let mut all = s.clone();
        let mid = all.len() / 2;
        all.select_nth_unstable_by(mid, f64::total_cmp);
        let upper = all[mid];
        if all.len() % 2 == 1 {
            upper
        } else {
            let lower = all[..mid].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (lower + upper) / 2.0
        }
    });
    for i in 0..n {
        s[i * n + i] = preference;
    }
    // Remove degeneracies, as scikit-learn does: noise far below the similarities' scale.
    let mut rng = ChaCha8Rng::seed_from_u64(p.random_state.unwrap_or(ctx.seed));
    for v in s.iter_mut() {
        *v += (f64::EPSILON * *v + f64::MIN_POSITIVE * 100.0) * normal(&mut rng);
    }
    let (mut r, mut a) = (vec![0.0f64; n * n], vec![0.0f64; n * n]);
    let mut history = vec![vec![false; n]; p.convergence_iter];
    let mut exemplar = vec![false; n];
    for it in 0..p.max_iter {
        (ctx.on_step)();
        // responsibilities
        for i in 0..n {
            let (mut first, mut second, mut arg) = (f64::NEG_INFINITY, f64::NEG_INFINITY, 0);
            for k in 0..n {
                let v = a[i * n + k] + s[i * n + k];
                if v > first {
                    second = first;
                    first = v;
                    arg = k;
                } else if v > second {
                    second = v;
                }
            }
            for k in 0..n {
                let new = s[i * n + k] - if k == arg { second } else { first };
                r[i * n + k] = p.damping * r[i * n + k] + (1.0 - p.damping) * new;
            }
        }
        // availabilities
        for k in 0..n {
            let column: f64 = (0..n).map(|i| if i == k { r[k * n + k] } else { r[i * n + k].max(0.0) }).sum();
            for i in 0..n {
                let own = if i == k { r[k * n + k] } else { r[i * n + k].max(0.0) };
                let mut new = column - own;
                if i != k {
                    new = new.min(0.0);
                }
                a[i * n + k] = p.damping * a[i * n + k] + (1.0 - p.damping) * new;
            }
        }
        for k in 0..n {
            exemplar[k] = a[k * n + k] + r[k * n + k] > 0.0;
        }
        history[it % p.convergence_iter].clone_from(&exemplar);
        if it >= p.convergence_iter {
            let stable = (0..n).all(|k| {
                let count = history.iter().filter(|h| h[k]).count();
                count == 0 || count == p.convergence_iter
            });
            if stable && exemplar.iter().any(|e| *e) {
                break;
            }
        }
    }
    let mut exemplars: Vec<usize> = (0..n).filter(|&k| exemplar[k]).collect();
    if exemplars.is_empty() {
        return Err(Error::data("affinity_propagation did not converge to any exemplar")
            .with_hint("raise max_iter or damping, or lower preference"));
    }
    // Refine: each cluster's exemplar becomes its member most similar to the others.
    let assign = |exemplars: &[usize]| -> Vec<usize> {
        (0..n)
            .map(|i| match exemplars.iter().position(|&e| e == i) {
                Some(c) => c,
                None => (0..exemplars.len()).fold(0, |b, c| {
                    if s[i * n + exemplars[c]] > s[i * n + exemplars[b]] {
                        c
                    } else {
                        b
                    }
                }),
            })
            .collect()
    };
    let labels = assign(&exemplars);
    for (c, e) in exemplars.iter_mut().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
        if let Some(best) = members.iter().copied().max_by(|&u, &v| {
            let su: f64 = members.iter().map(|&m| s[m * n + u]).sum();
            let sv: f64 = members.iter().map(|&m| s[m * n + v]).sum();
            su.total_cmp(&sv)
        }) {
            *e = best;
        }
    }
    exemplars.sort_unstable();
    exemplars.dedup();
    let centers = exemplars.iter().flat_map(|&e| x.row(e).iter().copied()).collect();
    Ok(Box::new(KMeans::from_centers(centers, x.cols)))
}

//! What a rollout is judged on, read from the prediction log and the outcomes.
//!
//! Each outcome (recorded in `pgml.outcomes`, or a row of an outcome source read as the role
//! that registered it) is attributed to the prediction it belongs to exactly as the live
//! metrics attribute it (`monitoring::live`): by request id, or the latest prediction for its
//! key within the project's attribution window. Then:
//! - shadow: the served prediction's loss and the candidate's shadow record of the same request
//!   give one paired difference;
//! - canary: each keyed prediction served by either arm gives one loss of its arm (a request
//!   without a key always went to the baseline and would bias the comparison: left out);
//! - replay: the candidate scores the logged features again.
//!
//! Everything since the phase started is read again at each evaluation: a late outcome counts
//! as soon as it arrives, and nothing is kept between ticks but ρ².

use super::store::Rollout;
use crate::cache;
use crate::error::Result;
use crate::privilege::as_role;
use crate::relation;
use pgml_core::rollout::guards::Minute;
use pgml_core::rollout::{Loss, Moments};
use pgml_core::Task;
use pgrx::datum::DatumWithOid;
use pgrx::spi::Spi;

/// How the rows are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shadow,
    Canary,
    /// Any served prediction that kept its features.
    Replay,
}

/// One labelled prediction: the label, the model that answered and what it answered, the
/// candidate's shadow answer (shadow), the features (replay).
pub struct Row {
    pub label: f32,
    pub model_id: i64,
    pub prediction: Option<f32>,
    pub probabilities: Option<Vec<f32>>,
    pub shadow: Option<(Option<f32>, Option<Vec<f32>>)>,
    pub features: Option<Vec<f32>>,
}

/// Where to look.
pub struct Scope<'a> {
    pub project_id: i64,
    pub stage: &'a str,
    /// Unix-epoch text PostgreSQL reads as timestamptz: predictions and outcomes before it are
    /// not read.
    pub since: &'a str,
    pub baseline_id: i64,
    pub candidate_id: i64,
    pub kind: Kind,
}

/// The labelled predictions of a scope, from every outcome stream of the project.
pub fn rows(s: &Scope) -> Result<Vec<Row>> {
    let mut out = read(
        s,
        "SELECT o.request_id, o.key, o.occurred_at, o.label FROM pgml.outcomes o
         WHERE o.project_id = $1 AND o.occurred_at >= $5::timestamptz",
    )?;
    let sources: Vec<(String, String, String, String, String)> = Spi::connect(|c| {
        let t = c.select(
            "SELECT relation_name, key_column, time_column, label_column, created_by::text
             FROM pgml.outcome_sources WHERE project_id = $1 ORDER BY id",
            None,
            &[s.project_id.into()],
        )?;
        let mut v = vec![];
        for r in t {
            v.push((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<String>(4)?.unwrap_or_default(),
                r.get::<String>(5)?.unwrap_or_default(),
            ));
        }
        Ok::<_, crate::error::SqlError>(v)
    })?;
    for (name, key, time, label, owner) in sources {
        let (k, t, l) =
            (relation::quote_ident(&key), relation::quote_ident(&time), relation::quote_ident(&label));
        let got = as_role(&owner, || {
            let relation = relation::qualified_name(&name)?;
            read(
                s,
                &format!(
                    "SELECT NULL::uuid, {k}::text, {t}::timestamptz, {l}::real FROM {relation}
                     WHERE {t}::timestamptz >= $5::timestamptz AND {k} IS NOT NULL AND {l} IS NOT NULL"
                ),
            )
        });
        match got {
            Ok(rows) => out.extend(rows),
            // a broken source is the live metrics' to report (with its SQLSTATE); the test
            // goes on with the outcomes it can read
            Err(e) => {
                pgrx::warning!("pgml: a rollout could not read the outcome source {name}: {}", e.message)
            }
        }
    }
    Ok(out)
}

fn read(s: &Scope, outcomes: &str) -> Result<Vec<Row>> {
    let query = format!(
        "SELECT o.label, l.model_id, l.prediction, l.probabilities, sh.found, sh.prediction, sh.probabilities,
                l.features
         FROM ({outcomes}) AS o (request_id, key, occurred_at, label)
         JOIN LATERAL (
             (SELECT l.* FROM pgml.prediction_log l
              WHERE o.request_id IS NOT NULL AND l.request_id = o.request_id AND l.project_id = $1
                AND l.source <> 'shadow'
              LIMIT 1)
             UNION ALL
             (SELECT l.* FROM pgml.prediction_log l
              WHERE o.request_id IS NULL AND l.project_id = $1 AND l.key = o.key AND l.source <> 'shadow'
                AND l.predicted_at <= o.occurred_at
                AND l.predicted_at > o.occurred_at - COALESCE((SELECT m.attribution_window FROM pgml.monitoring m
                                                               WHERE m.project_id = $1), interval '7 days')
              ORDER BY l.predicted_at DESC LIMIT 1)
         ) l ON true
         LEFT JOIN LATERAL (
             SELECT true AS found, s.prediction, s.probabilities FROM pgml.prediction_log s
             WHERE $6 = 'shadow' AND s.request_id = l.request_id AND s.source = 'shadow' AND s.model_id = $4
               AND s.predicted_at BETWEEN l.predicted_at - interval '1 hour' AND l.predicted_at + interval '1 hour'
             LIMIT 1
         ) sh ON true
         WHERE o.label IS NOT NULL AND l.stage = $2 AND l.predicted_at >= $5::timestamptz
           AND CASE $6 WHEN 'shadow' THEN l.model_id = $3
                       WHEN 'canary' THEN l.model_id IN ($3, $4) AND l.key IS NOT NULL
                       ELSE l.features IS NOT NULL AND cardinality(l.features) > 0 END"
    );
    let kind = match s.kind {
        Kind::Shadow => "shadow",
        Kind::Canary => "canary",
        Kind::Replay => "replay",
    };
    let args: Vec<DatumWithOid> = vec![
        s.project_id.into(),
        s.stage.into(),
        s.baseline_id.into(),
        s.candidate_id.into(),
        s.since.into(),
        kind.into(),
    ];
    Spi::connect(|c| {
        let mut out = vec![];
        for r in c.select(&query, None, &args)? {
            let found = r.get::<bool>(5)?.unwrap_or(false);
            out.push(Row {
                label: r.get::<f32>(1)?.unwrap_or(f32::NAN),
                model_id: r.get::<i64>(2)?.unwrap_or_default(),
                prediction: r.get::<f32>(3)?,
                probabilities: r.get::<Vec<f32>>(4)?,
                shadow: found
                    .then(|| Ok::<_, pgrx::spi::Error>((r.get::<f32>(6)?, r.get::<Vec<f32>>(7)?)))
                    .transpose()?,
                features: r.get::<Vec<f32>>(8)?,
            });
        }
        Ok(out)
    })
}

/// The loss of one answer of `model_id` (None: no loss for it — a failed shadow score, a
/// log-loss without probabilities).
pub fn loss_of(
    loss: Loss,
    task: Task,
    model_id: i64,
    label: f32,
    prediction: Option<f32>,
    probabilities: Option<&[f32]>,
) -> Result<Option<f64>> {
    let Some(prediction) = prediction.filter(|p| !p.is_nan()) else { return Ok(None) };
    let probability = match (loss, task) {
        (Loss::LogLoss, Task::Classification) => {
            let model = cache::model(model_id)?;
            let index = model.header.classes.iter().position(|c| c.to_bits() == label.to_bits());
            match (index, probabilities) {
                (Some(i), Some(p)) => p.get(i).copied(),
                // a label the model never saw: it gave it no probability at all
                (None, Some(_)) => Some(0.0),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(loss.of(prediction, label, probability))
}

/// A rollout's evidence: the stream the test reads and each arm's losses.
#[derive(Default)]
pub struct Evidence {
    pub stream: Moments,
    pub baseline: Moments,
    pub candidate: Moments,
    /// Labelled rows of the smaller arm (in shadow, of each pair).
    pub per_arm: f64,
    /// Labelled rows that could not be used (no shadow record, a failed score, no probabilities).
    pub unusable: f64,
}

/// The evidence of a running rollout's phase.
pub fn of(r: &Rollout, loss: Loss) -> Result<Evidence> {
    let kind = match r.phase {
        pgml_core::rollout::Phase::Shadow => Kind::Shadow,
        pgml_core::rollout::Phase::Canary => Kind::Canary,
    };
    let scope = Scope {
        project_id: r.project.id,
        stage: &r.stage,
        since: &r.phase_started_at,
        baseline_id: r.baseline_id,
        candidate_id: r.candidate_id,
        kind,
    };
    let mut e = Evidence::default();
    let task = r.project.task;
    for row in rows(&scope)? {
        let served =
            loss_of(loss, task, row.model_id, row.label, row.prediction, row.probabilities.as_deref())?;
        match kind {
            Kind::Shadow => {
                let shadow = match &row.shadow {
                    Some((p, probs)) => loss_of(loss, task, r.candidate_id, row.label, *p, probs.as_deref())?,
                    None => None,
                };
                match (served, shadow) {
                    (Some(b), Some(c)) => {
                        e.baseline.push(b);
                        e.candidate.push(c);
                        e.stream.push(c - b);
                    }
                    _ => e.unusable += 1.0,
                }
            }
            _ => match (served, row.model_id == r.candidate_id) {
                (Some(l), true) => e.candidate.push(l),
                (Some(l), false) => e.baseline.push(l),
                (None, _) => e.unusable += 1.0,
            },
        }
    }
    match kind {
        Kind::Shadow => e.per_arm = e.stream.n,
        _ => {
            e.per_arm = e.candidate.n.min(e.baseline.n);
            e.stream = Moments::canary(&e.candidate, &e.baseline, r.percent / 100.0);
        }
    }
    Ok(e)
}

/// The guards' last `minutes` complete minutes of the phase, oldest first: (candidate,
/// baseline). A failed prediction (a shadow's, or either arm's while a rollout runs) is logged
/// with a NaN prediction, NULL in the log: it counts as an error.
pub fn guard_minutes(r: &Rollout, minutes: u32) -> Result<Vec<(Minute, Minute)>> {
    let shadow = r.phase == pgml_core::rollout::Phase::Shadow;
    Spi::connect(|c| {
        let t = c.select(
            "SELECT date_trunc('minute', l.predicted_at)::text AS minute,
                    CASE WHEN $6 THEN l.source = 'shadow' ELSE l.model_id = $5 END AS candidate,
                    count(*)::float8, (count(*) FILTER (WHERE l.prediction IS NULL OR l.prediction = 'NaN'))::float8,
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY l.latency_us)
             FROM pgml.prediction_log l
             WHERE l.project_id = $1 AND l.stage = $2
               AND l.predicted_at >= greatest($3::timestamptz, date_trunc('minute', now()) - $7 * interval '1 minute')
               AND l.predicted_at < date_trunc('minute', now())
               AND CASE WHEN $6 THEN (l.source = 'shadow' AND l.model_id = $5) OR (l.source <> 'shadow' AND l.model_id = $4)
                        ELSE l.model_id IN ($4, $5) AND l.key IS NOT NULL END
             GROUP BY 1, 2 ORDER BY 1",
            None,
            &[
                r.project.id.into(),
                r.stage.as_str().into(),
                r.phase_started_at.as_str().into(),
                r.baseline_id.into(),
                r.candidate_id.into(),
                shadow.into(),
                f64::from(minutes).into(),
            ],
        )?;
        let mut out: Vec<(String, Minute, Minute)> = vec![];
        for row in t {
            let minute = row.get::<String>(1)?.unwrap_or_default();
            let m = Minute {
                requests: row.get::<f64>(3)?.unwrap_or_default(),
                errors: row.get::<f64>(4)?.unwrap_or_default(),
                p99_micros: row.get::<f64>(5)?,
            };
            if out.last().map(|l| &l.0) != Some(&minute) {
                out.push((minute, Minute::default(), Minute::default()));
            }
            let last = out.last_mut().expect("pushed above");
            match row.get::<bool>(2)?.unwrap_or(false) {
                true => last.1 = m,
                false => last.2 = m,
            }
        }
        Ok::<_, crate::error::SqlError>(out.into_iter().map(|(_, c, b)| (c, b)).collect())
    })
}

//! Live metrics in the database: the log's writers fold each batch of predictions into
//! `pgml.live_stats` (one row per project, stage, model and minute) in the transaction that
//! writes the batch; `refresh` folds in the outcomes that arrived since its last run, joined to
//! their predictions; `metrics` merges the rows of a window into buckets and computes the task's
//! metrics. The maths is the core's (`pgml_core::monitoring::live`).
//!
//! A rollout's shadow records (source `shadow`: the candidate's score of a request the baseline
//! answered) count in their model's predictions, latency and drift, but an outcome belongs to
//! the answer that was served: the joins below never pick a shadow record (the rollout's own
//! test pairs the two, `rollout::evidence`).

use pgml_core::drift::FeatureReference;
use pgml_core::monitoring::live::{class_key, BucketStats};
use pgml_core::monitoring::LogRecord;
use pgrx::spi::{self, SpiClient};
use pgrx::JsonB;
use std::collections::{BTreeMap, HashMap};

type SpiResult<T> = std::result::Result<T, spi::Error>;

/// (project, stage, model, minute in Unix microseconds)
pub type Key = (i64, String, i64, i64);

const MINUTE_MICROS: i64 = 60_000_000;

/// Serialises every change of `pgml.live_stats` (writers of several rings, refreshes): each
/// reads a row, merges and writes it back.
pub const LOCK: &str = "SELECT pg_advisory_xact_lock(1885826412, 1)";

/// How a model's predictions are binned for the drift of their distribution: its training
/// reference (classes for a classifier, decile edges for a regressor).
pub fn predicted_key(reference: Option<&FeatureReference>, prediction: f32) -> Option<String> {
    let r = reference?;
    if prediction.is_nan() {
        return None;
    }
    if r.categorical.is_some() {
        return Some(class_key(prediction));
    }
    let edges = &r.numeric.as_ref()?.edges;
    Some(edges.iter().position(|&e| prediction <= e).unwrap_or(edges.len()).to_string())
}

/// The training reference of a model's predictions, when it has one.
pub fn reference(client: &SpiClient, model_id: i64) -> SpiResult<Option<FeatureReference>> {
    let t = client.select(
        "SELECT predictions FROM pgml.drift_references WHERE model_id = $1",
        Some(1),
        &[model_id.into()],
    )?;
    if t.is_empty() {
        return Ok(None);
    }
    Ok(t.first().get::<JsonB>(1)?.and_then(|j| serde_json::from_value(j.0).ok()))
}

/// Folds a written batch into the live statistics (called by the writer, in its transaction).
pub fn fold_predictions(client: &mut SpiClient, batch: &[LogRecord]) -> SpiResult<()> {
    let mut references: HashMap<i64, Option<FeatureReference>> = HashMap::new();
    let mut buckets: BTreeMap<Key, BucketStats> = BTreeMap::new();
    for r in batch {
        if let std::collections::hash_map::Entry::Vacant(e) = references.entry(r.model_id) {
            e.insert(reference(client, r.model_id)?);
        }
        let key = (
            r.project_id,
            r.stage.clone(),
            r.model_id,
            r.at_unix_micros.div_euclid(MINUTE_MICROS) * MINUTE_MICROS,
        );
        let predicted = predicted_key(references[&r.model_id].as_ref(), r.prediction);
        buckets.entry(key).or_default().add_prediction(r.weight, r.latency_micros, predicted);
    }
    merge_all(client, buckets)
}

/// Adds each bucket's statistics to its row of `pgml.live_stats`.
pub fn merge_all(client: &mut SpiClient, buckets: BTreeMap<Key, BucketStats>) -> SpiResult<()> {
    if buckets.is_empty() {
        return Ok(());
    }
    client.update(LOCK, None, &[])?;
    for ((project, stage, model, minute), add) in buckets {
        let args = || -> Vec<pgrx::datum::DatumWithOid> {
            vec![project.into(), stage.as_str().into(), model.into(), minute.into()]
        };
        let t = client.update(
            "SELECT stats FROM pgml.live_stats
             WHERE project_id = $1 AND stage = $2 AND model_id = $3
               AND bucket = timestamptz 'epoch' + $4 * interval '1 microsecond'",
            Some(1),
            &args(),
        )?;
        let mut merged: BucketStats = match t.is_empty() {
            true => BucketStats::default(),
            false => {
                t.first().get::<JsonB>(1)?.and_then(|j| serde_json::from_value(j.0).ok()).unwrap_or_default()
            }
        };
        merged.merge(&add);
        let mut a = args();
        a.push(JsonB(serde_json::to_value(&merged).unwrap_or_default()).into());
        client.update(
            "INSERT INTO pgml.live_stats (project_id, stage, model_id, bucket, stats)
             VALUES ($1, $2, $3, timestamptz 'epoch' + $4 * interval '1 microsecond', $5)
             ON CONFLICT (project_id, stage, model_id, bucket)
             DO UPDATE SET stats = EXCLUDED.stats, updated_at = clock_timestamp()",
            None,
            &a,
        )?;
    }
    Ok(())
}

use crate::cache;
use crate::error::{Result, SqlError};
use crate::privilege::{as_owner, as_role};
use crate::relation;
use crate::store::check_writable;
use pgml_core::monitoring::live::{Metrics, Probabilities};
use pgml_core::Task;
use pgrx::datum::Interval;
use pgrx::spi::Spi;

/// Outcomes are joined once they are two flush intervals old: the log's writers have written
/// the predictions made before them by then.
fn settle() -> String {
    format!("interval '{} milliseconds'", 2 * super::shared::FLUSH_INTERVAL_MS.get())
}

/// A joined outcome: (label, stage, model, minute, prediction, probabilities, weight), or None
/// for an outcome whose prediction was not found.
type Joined = Option<(f32, String, i64, i64, f32, Option<Vec<f32>>, f32)>;

struct ProjectRow {
    id: i64,
    name: String,
    task: Task,
    window: Interval,
}

/// What one refresh did for one stream of outcomes.
pub struct Refreshed {
    pub project: String,
    pub source: String,
    pub matched: i64,
    pub unmatched: i64,
}

/// Folds the outcomes recorded (and those in outcome sources) since the last refresh into the
/// live statistics of the predictions they belong to.
pub fn refresh(project: Option<&str>) -> Result<Vec<Refreshed>> {
    check_writable()?;
    let projects: Vec<ProjectRow> = Spi::connect(|c| {
        let t = c.select(
            "SELECT p.id, p.name, p.task::text, COALESCE(m.attribution_window, interval '7 days')
             FROM pgml.projects p LEFT JOIN pgml.monitoring m ON m.project_id = p.id
             WHERE $1::text IS NULL OR p.name = $1 ORDER BY p.id",
            None,
            &[project.into()],
        )?;
        let mut out = vec![];
        for r in t {
            out.push(ProjectRow {
                id: r.get::<i64>(1)?.unwrap_or_default(),
                name: r.get::<String>(2)?.unwrap_or_default(),
                task: r.get::<String>(3)?.and_then(|t| Task::parse(&t).ok()).unwrap_or(Task::Regression),
                window: r.get::<Interval>(4)?.unwrap_or_else(|| Interval::new(0, 7, 0).expect("7 days")),
            });
        }
        Ok::<_, SqlError>(out)
    })?;
    if let (Some(name), true) = (project, projects.is_empty()) {
        return Err(crate::store::unknown_project(name));
    }
    let mut done = vec![];
    for p in &projects {
        done.extend(skip_failed(p, "pgml.outcomes", || refresh_recorded(p)));
        let sources: Vec<(i64, String, String, String, String, String)> = Spi::connect(|c| {
            let t = c.select(
                "SELECT id, relation_name, key_column, time_column, label_column, created_by::text
                 FROM pgml.outcome_sources WHERE project_id = $1 ORDER BY id",
                None,
                &[p.id.into()],
            )?;
            let mut out = vec![];
            for r in t {
                out.push((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<String>(3)?.unwrap_or_default(),
                    r.get::<String>(4)?.unwrap_or_default(),
                    r.get::<String>(5)?.unwrap_or_default(),
                    r.get::<String>(6)?.unwrap_or_default(),
                ));
            }
            Ok::<_, SqlError>(out)
        })?;
        for s in sources {
            let relation = s.1.clone();
            done.extend(skip_failed(p, &relation, || refresh_source(p, s)));
        }
    }
    Ok(done)
}

/// Folds one stream of outcomes in a subtransaction: a stream that fails (an outcome source
/// whose view was dropped, or whose owner lost its privileges) is skipped with a WARNING and
/// leaves its watermark where it was, and the other streams and projects go on, as does the
/// alert evaluation that follows (pg_cron's job is one statement for every project).
fn skip_failed(p: &ProjectRow, stream: &str, fold: impl FnOnce() -> Result<Refreshed>) -> Option<Refreshed> {
    match crate::subtransaction::isolated(fold) {
        Ok(done) => Some(done),
        Err(e) => {
            pgrx::warning!(
                "pgml: the outcomes of project \"{}\" from {stream} were skipped: {} ({})",
                p.name,
                e.message,
                e.sqlstate()
            );
            None
        }
    }
}

const JOINED_COLUMNS: &str =
    "p.stage, p.model_id, (floor(extract(epoch FROM p.predicted_at) / 60) * 60000000)::int8,
                              p.prediction, p.probabilities, p.weight";

fn read_joined(
    query: &str,
    args: &[pgrx::datum::DatumWithOid],
) -> Result<Vec<(i64, Option<String>, Joined)>> {
    Spi::connect(|c| {
        let mut out = vec![];
        for r in c.select(query, None, args)? {
            let position = r.get::<i64>(1)?.unwrap_or_default();
            let time = r.get::<String>(2)?;
            let label = r.get::<f32>(3)?;
            let joined =
                match (label, r.get::<String>(4)?, r.get::<i64>(5)?, r.get::<i64>(6)?, r.get::<f32>(7)?) {
                    (Some(label), Some(stage), Some(model), Some(minute), Some(prediction)) => Some((
                        label,
                        stage,
                        model,
                        minute,
                        prediction,
                        r.get::<Vec<f32>>(8)?,
                        r.get::<f32>(9)?.unwrap_or(1.0),
                    )),
                    _ => None,
                };
            out.push((position, time, joined));
        }
        Ok(out)
    })
}

fn watermark(project_id: i64, source: Option<i64>) -> Result<(i64, Option<String>)> {
    let row = crate::store::first_row(
        "SELECT last_id, last_time::text FROM pgml.live_watermarks
         WHERE project_id = $1 AND COALESCE(source_id, 0) = COALESCE($2, 0)",
        &[project_id.into(), source.into()],
        |r| Ok((r.get::<i64>(1)?.unwrap_or(0), r.get::<String>(2)?)),
    )?;
    Ok(row.unwrap_or((0, None)))
}

fn refresh_recorded(p: &ProjectRow) -> Result<Refreshed> {
    let (last_id, _) = watermark(p.id, None)?;
    let rows = read_joined(
        &format!(
            "SELECT o.id, NULL::text, o.label, {JOINED_COLUMNS}
             FROM pgml.outcomes o
             LEFT JOIN LATERAL (
                 (SELECT l.* FROM pgml.prediction_log l
                  WHERE o.request_id IS NOT NULL AND l.request_id = o.request_id AND l.project_id = o.project_id
                    AND l.source <> 'shadow'
                  LIMIT 1)
                 UNION ALL
                 (SELECT l.* FROM pgml.prediction_log l
                  WHERE o.request_id IS NULL AND l.project_id = o.project_id AND l.key = o.key
                    AND l.source <> 'shadow'
                    AND l.predicted_at <= o.occurred_at AND l.predicted_at > o.occurred_at - $3
                  ORDER BY l.predicted_at DESC LIMIT 1)
             ) p ON true
             WHERE o.project_id = $1 AND o.id > $2 AND o.recorded_at <= now() - {settle}
             ORDER BY o.id LIMIT 100000",
            settle = settle()
        ),
        &[p.id.into(), last_id.into(), p.window.into()],
    )?;
    let last = rows.iter().map(|r| r.0).max().unwrap_or(last_id);
    fold_outcomes(p, None, rows, last, None, "pgml.outcomes")
}

fn refresh_source(p: &ProjectRow, s: (i64, String, String, String, String, String)) -> Result<Refreshed> {
    let (id, relation_name, key, time, label, created_by) = s;
    let (_, last_time) = watermark(p.id, Some(id))?;
    let (k, t, l) =
        (relation::quote_ident(&key), relation::quote_ident(&time), relation::quote_ident(&label));
    let upto: Option<String> =
        crate::store::first_row(&format!("SELECT (now() - {})::text", settle()), &[], |r| {
            Ok(r.get::<String>(1)?)
        })?
        .flatten();
    let rows = as_role(&created_by, || {
        let relation = relation::qualified_name(&relation_name)?;
        read_joined(
            &format!(
                "SELECT 0::int8, NULL::text, s.label, {JOINED_COLUMNS}
                 FROM (SELECT {k}::text AS key, {t}::timestamptz AS at, {l}::real AS label FROM {relation}
                       WHERE {t}::timestamptz > $2::timestamptz AND {t}::timestamptz <= $4::timestamptz
                         AND {k} IS NOT NULL AND {l} IS NOT NULL) s
                 LEFT JOIN LATERAL (
                     SELECT l.* FROM pgml.prediction_log l
                     WHERE l.project_id = $1 AND l.key = s.key AND l.source <> 'shadow'
                       AND l.predicted_at <= s.at AND l.predicted_at > s.at - $3
                     ORDER BY l.predicted_at DESC LIMIT 1
                 ) p ON true"
            ),
            &[
                p.id.into(),
                last_time.clone().unwrap_or_else(|| "-infinity".into()).into(),
                p.window.into(),
                upto.clone().into(),
            ],
        )
    })?;
    fold_outcomes(p, Some(id), rows, 0, upto, &relation_name)
}

/// Adds joined outcomes to the live statistics and moves the stream's watermark, as the
/// extension's owner, in the caller's transaction.
fn fold_outcomes(
    p: &ProjectRow,
    source: Option<i64>,
    rows: Vec<(i64, Option<String>, Joined)>,
    last_id: i64,
    last_time: Option<String>,
    name: &str,
) -> Result<Refreshed> {
    let mut buckets: BTreeMap<Key, BucketStats> = BTreeMap::new();
    let (mut matched, mut unmatched) = (0i64, 0i64);
    for (_, _, joined) in rows {
        let Some((label, stage, model, minute, prediction, probabilities, weight)) = joined else {
            unmatched += 1;
            continue;
        };
        matched += 1;
        let stats = buckets.entry((p.id, stage, model, minute)).or_default();
        match p.task {
            Task::Classification => {
                let classes = cache::model(model).map(|m| m.header.classes.clone()).unwrap_or_default();
                let label_index = classes.iter().position(|c| c.to_bits() == label.to_bits());
                let probabilities =
                    probabilities.as_deref().map(|values| Probabilities { values, label_index });
                stats.labelled.add_classification(weight, prediction, label, probabilities);
            }
            _ => stats.labelled.add_regression(weight, prediction, label),
        }
    }
    let name = name.to_string();
    if matched + unmatched == 0 {
        // nothing new: nothing written (a refresh every minute leaves an idle registry as it was)
        return Ok(Refreshed { project: p.name.clone(), source: name, matched, unmatched });
    }
    as_owner(|| {
        Spi::connect_mut(|c| {
            merge_all(c, buckets)?;
            c.update(
                "INSERT INTO pgml.live_watermarks AS w (project_id, source_id, last_id, last_time, matched, unmatched)
                 VALUES ($1, $2, $3, COALESCE($4::timestamptz, '-infinity'), $5, $6)
                 ON CONFLICT (project_id, COALESCE(source_id, 0)) DO UPDATE SET
                     last_id = GREATEST(w.last_id, EXCLUDED.last_id),
                     last_time = GREATEST(w.last_time, EXCLUDED.last_time),
                     matched = w.matched + EXCLUDED.matched, unmatched = w.unmatched + EXCLUDED.unmatched,
                     updated_at = clock_timestamp()",
                None,
                &[
                    p.id.into(),
                    source.into(),
                    last_id.into(),
                    last_time.clone().into(),
                    matched.into(),
                    unmatched.into(),
                ],
            )?;
            Ok::<_, spi::Error>(())
        })?;
        Ok(())
    })?;
    Ok(Refreshed { project: p.name.clone(), source: name, matched, unmatched })
}

/// One output row of `pgml.live_metrics`.
pub struct LiveRow {
    pub stage: String,
    pub model_id: i64,
    /// Unix microseconds.
    pub bucket_start: i64,
    pub judged: bool,
    pub stats: BucketStats,
    pub metrics: Metrics,
    pub drift: Option<f64>,
    /// Records the log dropped in this database during the bucket (all projects').
    pub dropped: i64,
}

/// The live statistics of a project over the last `window`, merged into buckets of `bucket`.
pub fn metrics(
    project: &str,
    window: Interval,
    bucket: Interval,
    stage: Option<&str>,
) -> Result<Vec<LiveRow>> {
    let p = crate::store::project(project)?;
    let bad = crate::store::first_row(
        "SELECT CASE WHEN $1 <= interval '0' THEN 'time_window must be positive, not ' || $1
                     WHEN $2 < interval '1 minute' THEN 'bucket must be at least 1 minute, not ' || $2
                     WHEN extract(month FROM $2) <> 0 OR extract(year FROM $2) <> 0
                     THEN 'bucket must be a number of days, hours or minutes, not ' || $2 END",
        &[window.into(), bucket.into()],
        |r| Ok(r.get::<String>(1)?),
    )?
    .flatten();
    if let Some(message) = bad {
        return Err(
            SqlError::invalid(message).hint("for example time_window => '7 days', bucket => '1 hour'")
        );
    }
    let merged = read(p.id, window, Some(bucket), stage, None)?;
    let drops: HashMap<i64, i64> = Spi::connect(|c| {
        let t = c.select(
            "SELECT (extract(epoch FROM date_bin($1, minute, timestamptz '2000-01-01 00:00:00+00')) * 1000000)::int8,
                    sum(dropped)::int8
             FROM pgml.log_drops WHERE minute >= now() - $2 GROUP BY 1",
            None,
            &[bucket.into(), window.into()],
        )?;
        let mut out = HashMap::new();
        for r in t {
            out.insert(r.get::<i64>(1)?.unwrap_or_default(), r.get::<i64>(2)?.unwrap_or_default());
        }
        Ok::<_, SqlError>(out)
    })?;
    let mut references: HashMap<i64, Option<FeatureReference>> = HashMap::new();
    let mut out = vec![];
    for ((stage, model_id, bucket_start), (judged, stats)) in merged {
        if let std::collections::hash_map::Entry::Vacant(e) = references.entry(model_id) {
            e.insert(Spi::connect(|c| reference(c, model_id))?);
        }
        let metrics = match p.task {
            Task::Classification => stats.labelled.classification(),
            _ => stats.labelled.regression(),
        };
        let drift = references[&model_id].as_ref().and_then(|r| drift_of(r, &stats));
        let dropped = drops.get(&bucket_start).copied().unwrap_or(0);
        out.push(LiveRow { stage, model_id, bucket_start, judged, stats, metrics, drift, dropped });
    }
    Ok(out)
}

/// (stage, model, bucket start) → (every minute old enough to judge, merged statistics)
type Merged = BTreeMap<(String, i64, i64), (bool, BucketStats)>;

/// The live statistics of a project's last `window`, merged per stage, model and bucket of
/// `bucket` (one bucket, starting at 0, when None), optionally of one stage and one model.
pub fn read(
    project_id: i64,
    window: Interval,
    bucket: Option<Interval>,
    stage: Option<&str>,
    model: Option<i64>,
) -> Result<Merged> {
    let rows: Vec<(String, i64, i64, bool, BucketStats)> = Spi::connect(|c| {
        let t = c.select(
            "SELECT s.stage, s.model_id,
                    CASE WHEN $3::interval IS NULL THEN 0
                         ELSE (extract(epoch FROM date_bin($3, s.bucket, timestamptz '2000-01-01 00:00:00+00')) * 1000000)::int8 END,
                    COALESCE(m.label_delay, interval '0') = interval '0'
                        OR s.bucket + interval '1 minute' <= now() - m.label_delay,
                    s.stats
             FROM pgml.live_stats s LEFT JOIN pgml.monitoring m ON m.project_id = s.project_id
             WHERE s.project_id = $1 AND s.bucket >= now() - $2 AND ($4::text IS NULL OR s.stage = $4)
               AND ($5::int8 IS NULL OR s.model_id = $5)
             ORDER BY 1, 2, 3",
            None,
            &[project_id.into(), window.into(), bucket.into(), stage.into(), model.into()],
        )?;
        let mut out = vec![];
        for r in t {
            let stats = r.get::<JsonB>(5)?.and_then(|j| serde_json::from_value(j.0).ok()).unwrap_or_default();
            out.push((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<i64>(2)?.unwrap_or_default(),
                r.get::<i64>(3)?.unwrap_or_default(),
                r.get::<bool>(4)?.unwrap_or(false),
                stats,
            ));
        }
        Ok::<_, SqlError>(out)
    })?;
    let mut merged: Merged = BTreeMap::new();
    // A minute's outcomes count once its predictions are older than the label delay (the
    // outcomes of younger ones may not have arrived): `judged` says every minute of a bucket is.
    for (stage, model, start, old_enough, mut stats) in rows {
        if !old_enough {
            stats.labelled = Default::default();
        }
        let e = merged.entry((stage, model, start)).or_insert((true, BucketStats::default()));
        e.0 &= old_enough;
        e.1.merge(&stats);
    }
    Ok(merged)
}

/// Predictions dropped by the log in this database over the last `window`.
pub fn dropped(window: Interval) -> Result<f64> {
    let n = crate::store::first_row(
        "SELECT COALESCE(sum(dropped), 0)::float8 FROM pgml.log_drops WHERE minute >= now() - $1",
        &[window.into()],
        |r| Ok(r.get::<f64>(1)?),
    )?;
    Ok(n.flatten().unwrap_or(0.0))
}

/// The predicted values' drift against the model's training reference: PSI over the reference's
/// decile bins for a regressor, Jensen–Shannon distance between class shares for a classifier.
pub fn drift_of(reference: &FeatureReference, stats: &BucketStats) -> Option<f64> {
    let total: f64 = stats.predicted.values().sum();
    if total <= 0.0 {
        return None;
    }
    if let Some(counts) = &reference.categorical {
        let mut classes: Vec<&String> = counts.keys().chain(stats.predicted.keys()).collect();
        classes.sort();
        classes.dedup();
        let ref_total: u64 = counts.values().sum();
        let p: Vec<f64> =
            classes.iter().map(|c| *counts.get(*c).unwrap_or(&0) as f64 / ref_total.max(1) as f64).collect();
        let q: Vec<f64> =
            classes.iter().map(|c| stats.predicted.get(*c).copied().unwrap_or(0.0) / total).collect();
        return Some(pgml_core::drift::js_distance(&p, &q));
    }
    let numeric = reference.numeric.as_ref()?;
    let current: Vec<f64> = (0..numeric.shares.len())
        .map(|i| stats.predicted.get(&i.to_string()).copied().unwrap_or(0.0) / total)
        .collect();
    Some(pgml_core::drift::psi(&numeric.shares, &current))
}

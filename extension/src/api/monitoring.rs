//! Monitoring in SQL: a project's logging settings, the log's state, outcomes recorded
//! later, and a wait for the log's writers.

use crate::error::{OrRaise, Result, SqlError};
use crate::monitoring::{live, shared, writer};
use crate::relation::quote_ident;
use crate::store::{self, monitoring::Changes};
use crate::{cache, store::monitoring as settings};
use pgml_core::monitoring::Settings;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode, Uuid};
use std::sync::atomic::Ordering;

/// Sets what is logged of a project's predictions and for how long; NULL keeps a setting.
/// Returns the settings in force.
#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn set_monitoring(
    project_name: Option<&str>,
    enabled: default!(Option<bool>, "NULL"),
    sample: default!(Option<f32>, "NULL"),
    scan_after: default!(Option<i32>, "NULL"),
    scan_sample: default!(Option<f32>, "NULL"),
    features_sample: default!(Option<f32>, "NULL"),
    retention: default!(Option<Interval>, "NULL"),
    label_delay: default!(Option<Interval>, "NULL"),
    attribution_window: default!(Option<Interval>, "NULL"),
) -> JsonB {
    let changes = Changes {
        enabled,
        sample,
        scan_after,
        scan_sample,
        features_sample,
        retention,
        label_delay,
        attribution_window,
    };
    not_null("project_name", project_name).and_then(|p| set(p, changes)).or_raise()
}

/// A required argument of a function whose other arguments may be NULL.
fn not_null<T>(name: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| {
        SqlError::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("{name} must not be NULL"))
    })
}

fn set(project_name: &str, c: Changes) -> Result<JsonB> {
    let project = store::project(project_name)?;
    if let Some(n) = c.scan_after.filter(|&n| n < 0) {
        return Err(SqlError::invalid(format!("scan_after must not be negative, not {n}"))
            .hint("it is how many predictions of a statement are logged at the rate `sample`"));
    }
    let rate = |v: Option<f32>| v.map_or(0.0, f64::from);
    let rates = Settings {
        sample: rate(c.sample),
        scan_sample: rate(c.scan_sample),
        features_sample: rate(c.features_sample),
        ..Settings::default()
    };
    rates.check()?;
    settings::check_intervals(&c)?;
    let out = settings::set(project.id, c)?;
    // every backend reads the settings again, as after a deploy
    cache::deployments_changed();
    Ok(out)
}

/// Whether predictions are logged on this server, and the log's counters for this database
/// since its buffer was claimed.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn monitoring_status() -> TableIterator<
    'static,
    (
        name!(logging, bool),
        name!(reason, Option<String>),
        name!(buffer_kb, i32),
        name!(flush_interval_ms, i32),
        name!(appended, i64),
        name!(written, i64),
        name!(dropped_full, i64),
        name!(dropped_unwritten, i64),
        name!(dropped_no_buffer, i64),
        name!(dropped_standby, i64),
        name!(pending_bytes, i64),
    ),
> {
    let reason = if !shared::available() {
        Some("pgml is not in shared_preload_libraries: predictions work but are not logged".to_string())
    } else if crate::monitoring::forward::standby_drops() {
        Some(
            "this server is a hot standby that forwards no predictions (pgml.log_primary_conninfo is off, or it has no primary_conninfo): they are counted in dropped_standby"
                .to_string(),
        )
    } else {
        None
    };
    let c = writer::counters(unsafe { pg_sys::MyDatabaseId });
    let g = shared::global();
    let load = |f: fn(&shared::Global) -> &std::sync::atomic::AtomicU64| {
        g.map_or(0, |g| f(g).load(Ordering::Relaxed) as i64)
    };
    TableIterator::once((
        reason.is_none(),
        reason,
        shared::LOG_BUFFER_KB.get(),
        shared::FLUSH_INTERVAL_MS.get(),
        c.appended as i64,
        c.written as i64,
        c.dropped_full as i64,
        c.dropped_unwritten as i64,
        load(|g| &g.dropped_no_ring),
        load(|g| &g.dropped_standby),
        c.pending_bytes as i64,
    ))
}

/// Waits until every prediction logged in this database so far is written (or counted as
/// dropped); false when `timeout_seconds` passed first or nothing is logged on this server.
#[pg_extern(stable, parallel_safe)]
fn flush_prediction_log(timeout_seconds: default!(f64, "10")) -> bool {
    if !shared::available() || crate::monitoring::forward::standby_drops() {
        return false;
    }
    let database = unsafe { pg_sys::MyDatabaseId };
    let target = writer::counters(database).appended;
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs_f64(timeout_seconds.clamp(0.0, 3600.0));
    loop {
        let c = writer::counters(database);
        if c.pending_bytes == 0 && c.written + c.dropped_unwritten >= target {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        unsafe {
            pg_sys::pg_usleep(10_000);
        }
        pgrx::check_for_interrupts!();
    }
}

/// Records the outcome (label) of a prediction made earlier: by its request id, or by the
/// entity's key and when the outcome happened. Returns the outcome's id.
#[pg_extern]
fn record_outcome(
    project_name: Option<&str>,
    label: Option<f32>,
    request_id: default!(Option<Uuid>, "NULL"),
    key: default!(Option<&str>, "NULL"),
    occurred_at: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> i64 {
    not_null("project_name", project_name)
        .and_then(|p| outcome(p, not_null("label", label)?, request_id, key, occurred_at))
        .or_raise()
}

fn outcome(
    project_name: &str,
    label: f32,
    request_id: Option<Uuid>,
    key: Option<&str>,
    occurred_at: Option<TimestampWithTimeZone>,
) -> Result<i64> {
    if request_id.is_none() && key.is_none() {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "an outcome needs the prediction's request_id or the entity's key",
        )
        .hint("pass request_id => the id the prediction was logged under, or key => what pgml.predict was given"));
    }
    if !label.is_finite() {
        return Err(SqlError::invalid(format!("label must be a finite number, not {label}")));
    }
    crate::monitoring::log::check_key(key)?;
    let project = store::project(project_name)?;
    settings::record_outcome(project.id, label, request_id, key, occurred_at)
}

/// Folds the outcomes that arrived since the last run (recorded ones, and those of outcome
/// sources) into the live metrics. Run every minute by pg_cron (job pgml_live_metrics).
#[pg_extern]
fn refresh_live_metrics(
    project_name: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (name!(project_name, String), name!(source, String), name!(matched, i64), name!(unmatched, i64)),
> {
    let rows = live::refresh(project_name).or_raise();
    TableIterator::new(rows.into_iter().map(|r| (r.project, r.source, r.matched, r.unmatched)))
}

fn timestamp(unix_micros: i64) -> Option<TimestampWithTimeZone> {
    // PostgreSQL counts microseconds from 2000-01-01
    TimestampWithTimeZone::try_from(unix_micros - pgml_core::monitoring::copy::POSTGRES_EPOCH_MICROS).ok()
}

/// A project's live metrics per stage, model and time bucket over the last `time_window`:
/// predictions, labelled predictions, the task's metrics on their outcomes (once a bucket is
/// older than the project's label delay), latency, and the drift of the predicted values
/// against the model's training reference.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn live_metrics(
    project_name: Option<&str>,
    time_window: default!(Option<Interval>, "'1 day'"),
    bucket: default!(Option<Interval>, "'1 hour'"),
    stage: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(stage, String),
        name!(model_id, i64),
        name!(bucket_start, Option<TimestampWithTimeZone>),
        name!(predictions, f64),
        name!(records, i64),
        name!(labelled, f64),
        name!(judged, bool),
        name!(accuracy, Option<f64>),
        name!(log_loss, Option<f64>),
        name!(precision, Option<f64>),
        name!(recall, Option<f64>),
        name!(f1, Option<f64>),
        name!(calibration_error, Option<f64>),
        name!(mae, Option<f64>),
        name!(rmse, Option<f64>),
        name!(r2, Option<f64>),
        name!(bias, Option<f64>),
        name!(latency_p50_us, Option<f64>),
        name!(latency_p99_us, Option<f64>),
        name!(prediction_drift, Option<f64>),
        name!(dropped, i64),
    ),
> {
    let args = || -> Result<(&str, Interval, Interval)> {
        Ok((
            not_null("project_name", project_name)?,
            not_null("time_window", time_window)?,
            not_null("bucket", bucket)?,
        ))
    };
    let rows = args().and_then(|(p, w, b)| live::metrics(p, w, b, stage)).or_raise();
    TableIterator::new(rows.into_iter().map(|r| {
        let m = r.metrics;
        (
            r.stage,
            r.model_id,
            timestamp(r.bucket_start),
            r.stats.predictions,
            r.stats.records as i64,
            r.stats.labelled.n,
            r.judged,
            m.accuracy,
            m.log_loss,
            m.precision,
            m.recall,
            m.f1,
            m.calibration_error,
            m.mae,
            m.rmse,
            m.r2,
            m.bias,
            r.stats.latency_quantile(0.5),
            r.stats.latency_quantile(0.99),
            r.drift,
            r.dropped,
        )
    }))
}

extension_sql!(
    r#"
-- Every project's live metrics over the last day, per hour.
CREATE VIEW pgml.live_metrics AS
SELECT p.name AS project_name, m.*
FROM pgml.projects p, LATERAL pgml.live_metrics(p.name) m;
"#,
    name = "live_metrics_view",
    requires = [live_metrics]
);

/// Reads outcomes from a table or view of the user's (nothing is copied): each row's key (the
/// key predictions were made with), time and label. Read by pgml.refresh_live_metrics with the
/// privileges of the role that adds it. Returns the source's id.
#[pg_extern]
fn add_outcome_source(
    project_name: &str,
    relation_name: &str,
    key_column: &str,
    time_column: &str,
    label_column: &str,
) -> i64 {
    add_source(project_name, relation_name, key_column, time_column, label_column).or_raise()
}

fn add_source(project_name: &str, relation_name: &str, key: &str, time: &str, label: &str) -> Result<i64> {
    let project = store::project(project_name)?;
    let relation = crate::relation::qualified_name(relation_name)?;
    let (k, t, l) = (quote_ident(key), quote_ident(time), quote_ident(label));
    // the columns exist, convert, and the caller may read them (PostgreSQL's own errors)
    Spi::connect(|c| {
        c.select(&format!("SELECT {k}::text, {t}::timestamptz, {l}::real FROM {relation} LIMIT 0"), None, &[])
            .map(|_| ())
    })?;
    settings::add_source(project.id, &relation, key, time, label)
}

/// Stops reading outcomes from a relation; true when it was a source of the project.
#[pg_extern]
fn remove_outcome_source(project_name: &str, relation_name: &str) -> bool {
    store::project(project_name)
        .and_then(|p| match crate::relation::qualified_name(relation_name) {
            Ok(relation) => settings::remove_source(p.id, &relation),
            // a source whose relation was dropped since
            Err(_) => settings::remove_missing_source(p.id, relation_name),
        })
        .or_raise()
}

/// Adds (or replaces) an alert rule: `metric` of what `stage` serves, over `time_window`,
/// `below` or `above` a threshold, once the window holds `min_count` predictions (labelled
/// ones for a quality metric). `action => 'rollback'` returns the stage to the model it served
/// before, in the transaction that opens the alert. Returns the rule's id.
#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn add_alert_rule(
    project_name: Option<&str>,
    name: Option<&str>,
    metric: Option<&str>,
    below: default!(Option<f64>, "NULL"),
    above: default!(Option<f64>, "NULL"),
    time_window: default!(Option<Interval>, "'1 hour'"),
    min_count: default!(Option<i64>, "100"),
    stage: default!(Option<&str>, "'production'"),
    action: default!(Option<&str>, "'notify'"),
) -> i64 {
    let run = || -> Result<i64> {
        let rule = settings::NewRule {
            name: not_null("name", name)?,
            metric: not_null("metric", metric)?,
            below,
            above,
            time_window: not_null("time_window", time_window)?,
            min_count: not_null("min_count", min_count)?,
            stage: not_null("stage", stage)?,
            action: not_null("action", action)?,
        };
        add_rule(not_null("project_name", project_name)?, rule)
    };
    run().or_raise()
}

fn add_rule(project_name: &str, rule: settings::NewRule) -> Result<i64> {
    let project = store::project(project_name)?;
    pgml_core::monitoring::alerts::Metric::parse(rule.metric, project.task)?;
    if rule.below.is_some() == rule.above.is_some() {
        return Err(SqlError::invalid("an alert rule needs exactly one of below and above")
            .hint("below => 0.9 for a metric that must stay high (accuracy), above => 500 for one that must stay low"));
    }
    if !matches!(rule.action, "notify" | "rollback") {
        return Err(SqlError::invalid(format!(
            "action must be 'notify' or 'rollback', not '{}'",
            rule.action
        )));
    }
    if rule.min_count < 1 {
        return Err(SqlError::invalid(format!("min_count must be at least 1, not {}", rule.min_count)));
    }
    if rule.action == "rollback" && !crate::privilege::caller_has_role("pgml_deployer")? {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("role \"{}\" may not make a rule that rolls back", crate::privilege::caller()),
        )
        .hint("action => 'rollback' needs membership in pgml_deployer"));
    }
    store::check_stage(&project, rule.stage)?;
    settings::add_rule(project.id, rule)
}

/// Removes an alert rule (its alerts stay, detached); true when it existed.
#[pg_extern]
fn remove_alert_rule(project_name: &str, name: &str) -> bool {
    store::project(project_name).and_then(|p| settings::remove_rule(p.id, name)).or_raise()
}

/// Evaluates every enabled alert rule (of one project, or all), after folding in new outcomes
/// (`refresh`): opens alerts whose condition holds, resolves those whose condition no longer
/// does. Run every minute by pg_cron (job pgml_live_metrics).
#[allow(clippy::type_complexity)]
#[pg_extern]
fn evaluate_alerts(
    project_name: default!(Option<&str>, "NULL"),
    refresh: default!(Option<bool>, "true"),
) -> TableIterator<
    'static,
    (
        name!(project_name, String),
        name!(rule, String),
        name!(model_id, Option<i64>),
        name!(value, Option<f64>),
        name!(count, f64),
        name!(state, String),
        name!(action_taken, Option<String>),
    ),
> {
    let run = || -> Result<Vec<crate::monitoring::alerts::Evaluated>> {
        if not_null("refresh", refresh)? {
            live::refresh(project_name)?;
        }
        crate::monitoring::alerts::evaluate(project_name)
    };
    let rows = run().or_raise();
    TableIterator::new(
        rows.into_iter()
            .map(|e| (e.project, e.rule, e.model_id, e.value, e.count, e.state.to_string(), e.action_taken)),
    )
}

/// Scores a table or view with what `stage` serves into `into` (created when missing, by
/// CREATE TABLE AS, which PostgreSQL runs with parallel workers; appended to otherwise): per row
/// the key, the prediction, the model id and the stage, and when. The model is the one the
/// stage serves when the call starts, for every row. Its predictions are logged (source
/// 'batch', sampled as a scan). Returns the rows written and the model.
#[pg_extern]
fn batch_score(
    project_name: &str,
    relation_name: &str,
    key_column: &str,
    into: &str,
    stage: default!(&str, "'production'"),
) -> TableIterator<'static, (name!(rows, i64), name!(model_id, i64), name!(stage, String), name!(into, String))>
{
    score(project_name, relation_name, key_column, into, stage).map(TableIterator::once).or_raise()
}

fn score(
    project_name: &str,
    relation_name: &str,
    key: &str,
    into: &str,
    stage: &str,
) -> Result<(i64, i64, String, String)> {
    store::check_writable()?;
    let project = store::project(project_name)?;
    store::check_stage(&project, stage)?;
    let model_id = store::serving_model(&project, stage)?;
    let relation = crate::relation::qualified_name(relation_name)?;
    let k = quote_ident(key);
    let exists =
        store::first_row("SELECT to_regclass($1) IS NOT NULL", &[into.into()], |r| Ok(r.get::<bool>(1)?))?
            .flatten()
            .unwrap_or(false);
    let target = match exists {
        true => crate::relation::qualified_name(into)?,
        false => into.to_string(),
    };
    let select = format!(
        "SELECT s.{k}::text AS key, pgml._pgml_score($1, $2, $3, s, s.{k}::text) AS prediction,
                $2::bigint AS model_id, $3::text AS stage, now() AS scored_at
         FROM {relation} s"
    );
    let statement = match exists {
        true => format!("INSERT INTO {target} (key, prediction, model_id, stage, scored_at) {select}"),
        false => format!("CREATE TABLE {target} AS {select}"),
    };
    let rows = Spi::connect_mut(|c| {
        c.update(&statement, None, &[project.name.as_str().into(), model_id.into(), stage.into()])
            .map(|t| t.len() as i64)
    })?;
    Ok((rows, model_id, stage.to_string(), crate::relation::qualified_name(&target)?))
}

/// One row of `pgml.batch_score`: the prediction of model `model_id` for a row, logged as a
/// batch prediction of `stage`.
#[pg_extern(stable, parallel_safe)]
fn _pgml_score(
    project_name: &str,
    model_id: i64,
    stage: &str,
    row: Option<pgrx::AnyElement>,
    key: Option<&str>,
) -> Option<f32> {
    // NULL in, NULL out, as pgml.predict's row form
    let row = row?;
    let run = || -> Result<f32> {
        let tags = crate::monitoring::log::Tags::new(key, None)?;
        let pending =
            crate::monitoring::log::decide(pgml_core::monitoring::Source::Batch, project_name, &tags)?;
        let model = cache::model(model_id)?;
        let x = crate::row::features(&model, &row)?;
        let y = model.predict_one(&x)?;
        if let Some(p) = pending {
            p.finish(model_id, stage, &x, y, &[]);
        }
        Ok(y)
    };
    Some(run().or_raise())
}

/// What pgml-serve calls to log the predictions it answered, and a standby's writers to forward
/// the standby's: records as the log's writers take them from shared memory (each a
/// little-endian u32 length, then the record), written the same way (binary COPY and the live
/// statistics, in the caller's transaction). Their source is set to `http`, but a standby's stay
/// `standby`. Returns the records written.
#[pg_extern]
fn _pgml_log_write(records: &[u8]) -> i64 {
    write_records(records).or_raise()
}

/// Records per call: pgml-serve writes about a second of predictions at a time.
const MAX_RECORDS: usize = 1_000_000;

fn write_records(bytes: &[u8]) -> Result<i64> {
    store::check_writable()?;
    let malformed =
        || SqlError::invalid("a log record is malformed").hint("this function takes what pgml-serve sends");
    let mut batch = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = bytes.get(at..at + 4).ok_or_else(malformed)?;
        let n = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let record = bytes.get(at + 4..at + 4 + n).ok_or_else(malformed)?;
        let mut r = pgml_core::monitoring::LogRecord::decode(record).map_err(|_| malformed())?;
        // a standby's writers forward its records; pgml-serve's are http; a rollout's shadow
        // records (from either) stay shadow
        use pgml_core::monitoring::Source;
        if !matches!(r.source, Source::Standby | Source::Shadow) {
            r.source = Source::Http;
        }
        batch.push(r);
        at += 4 + n;
        if batch.len() > MAX_RECORDS {
            return Err(SqlError::new(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                format!("more than {MAX_RECORDS} log records in one call"),
            ));
        }
    }
    crate::privilege::as_owner(|| writer::write_now(&batch))?;
    Ok(batch.len() as i64)
}

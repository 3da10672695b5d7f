//! The monitoring tables: per-project logging settings and recorded outcomes.

use super::{first_row, write_value};
use crate::error::{Result, SqlError};
use crate::privilege::as_owner;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::{JsonB, PgSqlErrorCode, Uuid};

/// What `pgml.set_monitoring` may change; None keeps the current value.
pub struct Changes {
    pub enabled: Option<bool>,
    pub sample: Option<f32>,
    pub scan_after: Option<i32>,
    pub scan_sample: Option<f32>,
    pub features_sample: Option<f32>,
    pub retention: Option<Interval>,
    pub label_delay: Option<Interval>,
    pub attribution_window: Option<Interval>,
}

/// Checks the intervals' ranges (rates are checked by the core).
pub fn check_intervals(c: &Changes) -> Result<()> {
    let bad = first_row(
        "SELECT CASE WHEN $1 < interval '1 day' THEN 'retention must be at least 1 day, not ' || $1
                     WHEN $2 < interval '0' THEN 'label_delay must not be negative, not ' || $2
                     WHEN $3 <= interval '0' THEN 'attribution_window must be positive, not ' || $3 END",
        &[c.retention.into(), c.label_delay.into(), c.attribution_window.into()],
        |r| Ok(r.get::<String>(1)?),
    )?
    .flatten();
    match bad {
        Some(message) => Err(SqlError::invalid(message)
            .hint("partitions are per day: retention is a number of days; the windows are intervals such as '7 days'")),
        None => Ok(()),
    }
}

/// Upserts the settings and returns them in full.
pub fn set(project_id: i64, c: Changes) -> Result<JsonB> {
    as_owner(|| {
        let row = write_value::<JsonB>(
            "INSERT INTO pgml.monitoring AS m (project_id, enabled, sample, scan_after, scan_sample, features_sample,
                                               retention, label_delay, attribution_window)
             VALUES ($1, COALESCE($2, true), COALESCE($3, 1.0), COALESCE($4, 100), COALESCE($5, 0.001),
                     COALESCE($6, 0.01), COALESCE($7, interval '30 days'), COALESCE($8, interval '0'),
                     COALESCE($9, interval '7 days'))
             ON CONFLICT (project_id) DO UPDATE SET
                 enabled = COALESCE($2, m.enabled), sample = COALESCE($3, m.sample),
                 scan_after = COALESCE($4, m.scan_after), scan_sample = COALESCE($5, m.scan_sample),
                 features_sample = COALESCE($6, m.features_sample), retention = COALESCE($7, m.retention),
                 label_delay = COALESCE($8, m.label_delay), attribution_window = COALESCE($9, m.attribution_window),
                 updated_by = current_user, updated_at = clock_timestamp()
             RETURNING jsonb_build_object('enabled', enabled, 'sample', sample, 'scan_after', scan_after,
                 'scan_sample', scan_sample, 'features_sample', features_sample, 'retention', retention::text,
                 'label_delay', label_delay::text, 'attribution_window', attribution_window::text)",
            &[
                project_id.into(),
                c.enabled.into(),
                c.sample.into(),
                c.scan_after.into(),
                c.scan_sample.into(),
                c.features_sample.into(),
                c.retention.into(),
                c.label_delay.into(),
                c.attribution_window.into(),
            ],
        )?;
        Ok(row.unwrap_or(JsonB(serde_json::Value::Null)))
    })
}

/// Records one outcome; returns its id.
pub fn record_outcome(
    project_id: i64,
    label: f32,
    request_id: Option<Uuid>,
    key: Option<&str>,
    occurred_at: Option<TimestampWithTimeZone>,
) -> Result<i64> {
    as_owner(|| {
        let id = write_value::<i64>(
            "INSERT INTO pgml.outcomes (project_id, request_id, key, label, occurred_at, recorded_by)
             VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6) RETURNING id",
            &[
                project_id.into(),
                request_id.into(),
                key.into(),
                label.into(),
                occurred_at.into(),
                crate::privilege::caller().into(),
            ],
        )?;
        Ok(id.unwrap_or_default())
    })
}

/// Registers an outcome source (its relation already resolved and checked by the caller).
pub fn add_source(project_id: i64, relation: &str, key: &str, time: &str, label: &str) -> Result<i64> {
    as_owner(|| {
        let id = write_value::<i64>(
            "INSERT INTO pgml.outcome_sources (project_id, relation_name, key_column, time_column, label_column, created_by)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (project_id, relation_name) DO UPDATE SET key_column = EXCLUDED.key_column,
                 time_column = EXCLUDED.time_column, label_column = EXCLUDED.label_column,
                 created_by = EXCLUDED.created_by, created_at = clock_timestamp()
             RETURNING id",
            &[
                project_id.into(),
                relation.into(),
                key.into(),
                time.into(),
                label.into(),
                crate::privilege::caller().into(),
            ],
        )?;
        Ok(id.unwrap_or_default())
    })
}

pub fn remove_source(project_id: i64, relation: &str) -> Result<bool> {
    as_owner(|| {
        let id = write_value::<i64>(
            "DELETE FROM pgml.outcome_sources WHERE project_id = $1 AND relation_name = $2 RETURNING id",
            &[project_id.into(), relation.into()],
        )?;
        Ok(id.is_some())
    })
}

/// Removes the source whose relation no longer exists (dropped or renamed since), named as it
/// was stored or by its unqualified name; a name that matches sources in two schemas must be
/// qualified.
pub fn remove_missing_source(project_id: i64, name: &str) -> Result<bool> {
    let ids: Vec<i64> = first_row(
        "SELECT COALESCE(array_agg(id), '{}') FROM pgml.outcome_sources
         WHERE project_id = $1
           AND (relation_name = $2
                OR (cardinality(parse_ident($2)) = 1 AND (parse_ident(relation_name))[2] = (parse_ident($2))[1]))",
        &[project_id.into(), name.into()],
        |r| Ok(r.get::<Vec<i64>>(1)?.unwrap_or_default()),
    )?
    .unwrap_or_default();
    if ids.len() > 1 {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_AMBIGUOUS_ALIAS,
            format!("\"{name}\" names {} outcome sources of the project, in different schemas", ids.len()),
        )
        .hint("qualify the name with its schema, as pgml.outcome_sources shows it"));
    }
    let Some(id) = ids.first() else { return Ok(false) };
    as_owner(|| {
        let gone = write_value::<i64>(
            "DELETE FROM pgml.outcome_sources WHERE id = $1 RETURNING id",
            &[(*id).into()],
        )?;
        Ok(gone.is_some())
    })
}

/// An alert rule as `pgml.add_alert_rule` takes it.
pub struct NewRule<'a> {
    pub name: &'a str,
    pub metric: &'a str,
    pub below: Option<f64>,
    pub above: Option<f64>,
    pub time_window: Interval,
    pub min_count: i64,
    pub stage: &'a str,
    pub action: &'a str,
}

pub fn add_rule(project_id: i64, r: NewRule) -> Result<i64> {
    let (comparison, threshold) = match (r.below, r.above) {
        (Some(t), _) => ("below", t),
        (_, Some(t)) => ("above", t),
        _ => ("below", 0.0),
    };
    as_owner(|| {
        let id = write_value::<i64>(
            "INSERT INTO pgml.alert_rules AS a (project_id, name, stage, metric, comparison, threshold, time_window,
                                                min_count, action, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (project_id, name) DO UPDATE SET stage = EXCLUDED.stage, metric = EXCLUDED.metric,
                 comparison = EXCLUDED.comparison, threshold = EXCLUDED.threshold, time_window = EXCLUDED.time_window,
                 min_count = EXCLUDED.min_count, action = EXCLUDED.action, created_by = EXCLUDED.created_by,
                 enabled = true, created_at = clock_timestamp()
             RETURNING id",
            &[
                project_id.into(),
                r.name.into(),
                r.stage.into(),
                r.metric.into(),
                comparison.into(),
                threshold.into(),
                r.time_window.into(),
                r.min_count.into(),
                r.action.into(),
                crate::privilege::caller().into(),
            ],
        )?;
        Ok(id.unwrap_or_default())
    })
}

pub fn remove_rule(project_id: i64, name: &str) -> Result<bool> {
    as_owner(|| {
        let id = write_value::<i64>(
            "DELETE FROM pgml.alert_rules WHERE project_id = $1 AND name = $2 RETURNING id",
            &[project_id.into(), name.into()],
        )?;
        Ok(id.is_some())
    })
}

//! The dashboard's pages: every project, one project, one model. Each reads the registry with
//! the viewer's role, so the database decides what it may see; the action forms appear only
//! for roles with `EXECUTE` on the function behind them (the database still decides when the
//! form is sent).

use super::chart;
use super::html::{esc, form, num, opt, seg, table, table_html, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use serde_json::Value;
use std::fmt::Write;
use tokio_postgres::types::Type;

/// What the viewer's role may do, as the database says.
pub struct Abilities {
    pub deploy: bool,
    pub promote: bool,
    pub review: bool,
    pub archive: bool,
    pub rollout: bool,
}

pub async fn abilities(state: &AppState, role: &str) -> ApiResult<Abilities> {
    let rows = state
        .db
        .query(
            role,
            "SELECT f, bool_or(has_function_privilege(p.oid, 'EXECUTE'))
             FROM unnest(ARRAY['deploy', 'promote', 'approve', 'archive_model', 'stop_rollout']) f
             LEFT JOIN pg_proc p ON p.proname = f AND p.pronamespace = 'pgml'::regnamespace
             GROUP BY f",
            &[],
        )
        .await?;
    let may = |name: &str| {
        rows.iter().any(|r| r.get::<_, &str>(0) == name && r.get::<_, Option<bool>>(1) == Some(true))
    };
    Ok(Abilities {
        deploy: may("deploy"),
        promote: may("promote"),
        review: may("approve"),
        archive: may("archive_model"),
        rollout: may("stop_rollout"),
    })
}

/// A section with a title and one table (its id the section's, `-table` added).
fn section_table(id: &str, title: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    format!(
        "<section id=\"{id}\"><h2>{}</h2>{}</section>",
        esc(title),
        table(headers, rows, &format!("{id}-table"))
    )
}

fn json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(class), esc(text))
}

fn project_link(name: &str) -> String {
    format!("<a href=\"/ui/projects/{}\">{}</a>", seg(name), esc(name))
}

fn model_link(id: i64) -> String {
    format!("<a href=\"/ui/models/{id}\">{id}</a>")
}

/// The key metric of a task (`pgml-core`'s `Task::key_metric`).
fn key_metric(task: &str) -> &'static str {
    pgml_core::task::Task::parse(task).map_or("f1", |t| t.key_metric())
}

/// Whether the registry has the monitoring of 0.6.0 (an older schema has no live metrics).
async fn monitored(state: &AppState, role: &str) -> ApiResult<bool> {
    let rows = state
        .db
        .query(
            role,
            "SELECT to_regprocedure('pgml.live_metrics(text, interval, interval, text)') IS NOT NULL",
            &[],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get(0)))
}

/// A project's live metrics of the last 7 days per hour and model version (the key metric over
/// time beside each version's test-split value), its open alerts and its logging settings.
async fn live_sections(
    state: &AppState,
    role: &str,
    name: &str,
    metric: &str,
    test_split: &[(i64, f64)],
) -> ApiResult<String> {
    if !monitored(state, role).await? {
        return Ok(String::new());
    }
    let db = &state.db;
    // the live metrics computed for the task (clustering and decomposition have none)
    let column = match metric {
        "f1" | "accuracy" | "precision" | "recall" | "log_loss" | "r2" | "mae" | "rmse" => metric,
        _ => "NULL::float8",
    };
    let live = db
        .query(
            role,
            &format!(
                "SELECT stage, model_id, extract(epoch FROM bucket_start)::float8, predictions, labelled, {column},
                        latency_p99_us, prediction_drift
                 FROM pgml.live_metrics($1, '7 days', '1 hour') ORDER BY bucket_start, model_id"
            ),
            &[(&name, Type::TEXT)],
        )
        .await?;
    let mut series: Vec<(i64, Vec<(f64, f64)>)> = Vec::new();
    // (stage, model) → (predictions, labelled, the last live value, p99, drift)
    type Totals =
        std::collections::BTreeMap<(String, i64), (f64, f64, Option<f64>, Option<f64>, Option<f64>)>;
    let mut totals: Totals = Default::default();
    for r in &live {
        let (stage, model): (String, i64) = (r.get(0), r.get(1));
        if let Some(v) = r.get::<_, Option<f64>>(5) {
            match series.iter_mut().find(|(id, _)| *id == model) {
                Some((_, points)) => points.push((r.get(2), v)),
                None => series.push((model, vec![(r.get(2), v)])),
            }
        }
        let t = totals.entry((stage, model)).or_insert((0.0, 0.0, None, None, None));
        t.0 += r.get::<_, f64>(3);
        t.1 += r.get::<_, f64>(4);
        t.2 = r.get::<_, Option<f64>>(5).or(t.2);
        t.3 = r.get::<_, Option<f64>>(6).or(t.3);
        t.4 = r.get::<_, Option<f64>>(7).or(t.4);
    }
    let mut out = format!(
        "<section id=\"live\"><h2>Live {} by model version (last 7 days, per hour)</h2>{}",
        esc(metric),
        chart::live_over_time(metric, &series, test_split)
    );
    let rows: Vec<Vec<String>> = totals
        .iter()
        .map(|((stage, model), (predictions, labelled, last, p99, drift))| {
            vec![
                esc(stage),
                model_link(*model),
                format!("{predictions:.0}"),
                format!("{labelled:.0}"),
                num(*last),
                num(test_split.iter().find(|(id, _)| id == model).map(|t| t.1)),
                num(*p99),
                num(*drift),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "stage",
            "model",
            "predictions",
            "labelled",
            &format!("live {metric} (last hour)"),
            &format!("test-split {metric}"),
            "p99 µs",
            "prediction drift",
        ],
        &rows,
        "live-table",
    ));
    out.push_str("</section>");
    let alerts = db
        .query(
            role,
            "SELECT a.rule_name, a.stage, a.model_id, a.metric, a.value, a.comparison, a.threshold,
                    to_char((a.opened_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), a.action_taken
             FROM pgml.alerts a JOIN pgml.projects p ON p.id = a.project_id
             WHERE p.name = $1 AND a.state = 'open' ORDER BY a.opened_at DESC",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let alert_rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|r| {
            vec![
                esc(&r.get::<_, String>(0)),
                esc(&r.get::<_, String>(1)),
                model_link(r.get(2)),
                format!(
                    "{} {} {}",
                    esc(&r.get::<_, String>(3)),
                    esc(&r.get::<_, String>(5)),
                    r.get::<_, f64>(6)
                ),
                num(r.get::<_, Option<f64>>(4)),
                opt(r.get::<_, Option<String>>(7)),
                opt(r.get::<_, Option<String>>(8)),
            ]
        })
        .collect();
    out.push_str(&section_table(
        "alerts",
        "Open alerts",
        &["rule", "stage", "model", "condition", "value", "opened", "action taken"],
        &alert_rows,
    ));
    let settings = db
        .query(
            role,
            "SELECT COALESCE(m.enabled, true), COALESCE(m.sample, 1), COALESCE(m.scan_after, 100),
                    COALESCE(m.scan_sample, 0.001), COALESCE(m.features_sample, 0.01),
                    COALESCE(m.retention, '30 days')::text, COALESCE(m.label_delay, '0')::text,
                    COALESCE(m.attribution_window, '7 days')::text
             FROM pgml.projects p LEFT JOIN pgml.monitoring m ON m.project_id = p.id WHERE p.name = $1",
            &[(&name, Type::TEXT)],
        )
        .await?;
    if let Some(r) = settings.first() {
        let _ = write!(
            out,
            "<section id=\"logging\"><h2>Logging</h2><dl class=\"facts\">\
             <dt>logged</dt><dd>{}</dd><dt>online</dt><dd>{} of a statement's first {} predictions</dd>\
             <dt>scans</dt><dd>{} of the rest</dd><dt>features kept</dt><dd>{}</dd>\
             <dt>retention</dt><dd>{}</dd><dt>label delay</dt><dd>{}</dd><dt>attribution window</dt><dd>{}</dd></dl></section>",
            if r.get::<_, bool>(0) { "yes" } else { "no" },
            r.get::<_, f32>(1),
            r.get::<_, i32>(2),
            r.get::<_, f32>(3),
            r.get::<_, f32>(4),
            esc(&r.get::<_, String>(5)),
            esc(&r.get::<_, String>(6)),
            esc(&r.get::<_, String>(7)),
        );
    }
    Ok(out)
}

/// Every project: task, what each stage serves, the key metric, last training and deploy,
/// drift status of the latest scheduled drift check.
pub async fn projects(state: &AppState, viewer: &Viewer<'_>) -> ApiResult<String> {
    let rows = state
        .db
        .query(
            viewer.role,
            "SELECT p.name, p.task::text,
                    (SELECT string_agg(o.stage || '=' || coalesce(o.model_id::text, ''), ',' ORDER BY o.stage)
                       FROM pgml.stages_overview o WHERE o.project = p.name),
                    (SELECT m.metrics::text FROM pgml.stage_deployments d JOIN pgml.models m ON m.id = d.model_id
                       WHERE d.project_id = p.id AND d.stage = 'production'),
                    (SELECT to_char((max(m.created_at))::timestamptz, 'YYYY-MM-DD HH24:MI TZ') FROM pgml.models m WHERE m.project_id = p.id),
                    (SELECT to_char((max(d.created_at))::timestamptz, 'YYYY-MM-DD HH24:MI TZ') FROM pgml.deployments d WHERE d.project_id = p.id),
                    (SELECT r.dataset_drifted FROM pgml.scheduled_runs r
                       WHERE r.project_name = p.name AND r.kind = 'drift' AND r.outcome = 'succeeded'
                       ORDER BY r.id DESC LIMIT 1)
             FROM pgml.projects p ORDER BY p.name",
            &[],
        )
        .await?;
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (name, task): (String, String) = (r.get(0), r.get(1));
            let stages: Option<String> = r.get(2);
            let stages = stages
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| match s.split_once('=') {
                    Some((stage, "")) => format!("{}: –", esc(stage)),
                    Some((stage, id)) => {
                        format!("{}: {}", esc(stage), model_link(id.parse().unwrap_or_default()))
                    }
                    None => esc(s),
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let metric = key_metric(&task);
            let value = json(r.get(3)).get(metric).and_then(Value::as_f64);
            let drift: Option<bool> = r.get(6);
            vec![
                project_link(&name),
                esc(&task),
                stages,
                format!("{} {}", esc(metric), num(value)),
                opt(r.get::<_, Option<String>>(4)),
                opt(r.get::<_, Option<String>>(5)),
                match drift {
                    Some(true) => badge("drifted", "drifted"),
                    Some(false) => badge("ok", "no drift"),
                    None => "–".to_string(),
                },
            ]
        })
        .collect();
    Ok(format!(
        "<h1>Projects</h1><section>{}</section>",
        table(
            &[
                "project",
                "task",
                "serving",
                "key metric (production)",
                "last training",
                "last deploy",
                "drift"
            ],
            &table_rows,
            "projects"
        )
    ))
}

/// One project: the metric chart over versions, stages and their gates, the deployment
/// timeline, pending promotions, the audit trail, schedules and their runs, and the actions.
/// The models table's sorting and filters, from the page's query string: links and a GET form
/// keep them (the pages stay script-free).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ModelsQuery {
    /// `model`, `algorithm`, `status`, `metric` or `trained`.
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` or `desc`.
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Only models whose key metric is at least this.
    #[serde(default)]
    pub min: Option<String>,
}

impl ModelsQuery {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The query string of these filters with another sort.
    fn with_sort(&self, sort: &str, order: &str) -> String {
        let mut parts = vec![format!("sort={sort}"), format!("order={order}")];
        for (k, v) in [("algorithm", &self.algorithm), ("status", &self.status), ("min", &self.min)] {
            if let Some(v) = Self::given(v) {
                parts.push(format!("{k}={}", seg(v)));
            }
        }
        parts.join("&amp;")
    }
}

pub async fn project(
    state: &AppState,
    viewer: &Viewer<'_>,
    name: &str,
    q: &ModelsQuery,
) -> ApiResult<String> {
    let role = viewer.role;
    let db = &state.db;
    let task: String = db
        .query(role, "SELECT task::text FROM pgml.projects WHERE name = $1", &[(&name, Type::TEXT)])
        .await?
        .first()
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::not_found(format!("project \"{name}\" does not exist")))?;
    let can = abilities(state, role).await?;
    let metric = key_metric(&task);
    let models = db
        .query(
            role,
            "SELECT m.id, m.algorithm, m.status, to_char((m.created_at)::timestamptz, 'YYYY-MM-DD HH24:MI TZ'), m.metrics::text
             FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = $1 ORDER BY m.id",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let stages = db
        .query(
            role,
            "SELECT stage, model_id, algorithm, strategy::text, deployed_by::text,
                    to_char((deployed_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), min_metrics::text, max_metrics::text,
                    min_improvement, min_relative_improvement, approvals, drift_relation
             FROM pgml.stages_overview WHERE project = $1 ORDER BY stage",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let serving: Vec<i64> = stages.iter().filter_map(|r| r.get::<_, Option<i64>>(1)).collect();
    let served_by: Vec<(i64, String)> =
        stages.iter().filter_map(|r| Some((r.get::<_, Option<i64>>(1)?, r.get::<_, String>(0)))).collect();
    let stage_names: Vec<String> = stages.iter().map(|r| r.get(0)).collect();
    let mut out = format!("<h1>{} <span class=\"badge\">{}</span></h1>", esc(name), esc(&task));

    // the metric over versions, the others on demand
    let metrics: Vec<(i64, Value)> = models.iter().map(|r| (r.get(0), json(r.get(4)))).collect();
    let points = |m: &str| -> Vec<(i64, f64)> {
        metrics.iter().filter_map(|(id, v)| v.get(m).and_then(Value::as_f64).map(|x| (*id, x))).collect()
    };
    let _ = write!(
        out,
        "<section id=\"metric\"><h2>{} by model version</h2>{}",
        esc(metric),
        chart::metric_over_versions(metric, &points(metric), &served_by)
    );
    let mut others: Vec<String> = metrics
        .iter()
        .flat_map(|(_, v)| v.as_object().into_iter().flat_map(|o| o.iter()))
        .filter(|(k, v)| v.is_number() && k.as_str() != metric)
        .map(|(k, _)| k.clone())
        .collect();
    others.sort();
    others.dedup();
    for other in others {
        let _ = write!(
            out,
            "<details><summary>{}</summary>{}</details>",
            esc(&other),
            chart::metric_over_versions(&other, &points(&other), &served_by)
        );
    }
    out.push_str("</section>");
    out.push_str(&live_sections(state, role, name, metric, &points(metric)).await?);

    // stages, their gates, and the actions
    let stage_rows: Vec<Vec<String>> = stages
        .iter()
        .map(|r| {
            let gates = [("min", json(r.get(6))), ("max", json(r.get(7)))]
                .iter()
                .flat_map(|(kind, v)| {
                    v.as_object()
                        .into_iter()
                        .flat_map(|o| o.iter())
                        .map(move |(k, x)| format!("{} {kind} {x}", esc(k)))
                        .collect::<Vec<_>>()
                })
                .chain(r.get::<_, Option<f64>>(8).map(|v| format!("improvement ≥ {v}")))
                .chain(r.get::<_, Option<f64>>(9).map(|v| format!("relative improvement ≥ {v}")))
                .chain((r.get::<_, i32>(10) > 0).then(|| format!("{} approval(s)", r.get::<_, i32>(10))))
                .chain(r.get::<_, Option<String>>(11).map(|v| format!("no drift against {}", esc(&v))))
                .collect::<Vec<_>>();
            vec![
                esc(&r.get::<_, String>(0)),
                r.get::<_, Option<i64>>(1).map_or("–".into(), model_link),
                opt(r.get::<_, Option<String>>(2)),
                opt(r.get::<_, Option<String>>(3)),
                opt(r.get::<_, Option<String>>(4)),
                opt(r.get::<_, Option<String>>(5)),
                if gates.is_empty() { "–".into() } else { gates.join("<br>") },
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<section id=\"stages\"><h2>Stages</h2>{}",
        table(
            &["stage", "model", "algorithm", "strategy", "deployed by", "since", "gates"],
            &stage_rows,
            "stages-table"
        )
    );
    let options = |selected: &str| -> String {
        stage_names
            .iter()
            .map(|s| format!("<option{}>{}</option>", if s == selected { " selected" } else { "" }, esc(s)))
            .collect()
    };
    let base = format!("/ui/projects/{}", seg(name));
    if can.deploy || can.promote {
        out.push_str("<div class=\"actions\">");
        if can.deploy {
            out.push_str(&form(
                &format!("{base}/deploy"),
                viewer,
                &format!(
                    "<label>Deploy <select name=\"strategy\"><option>best_score</option><option>most_recent</option></select></label>\
                     <label>or model <input name=\"model_id\" inputmode=\"numeric\" size=\"5\"></label>\
                     <label>to <select name=\"stage\">{}</select></label>\
                     <label>because <input name=\"reason\" required maxlength=\"500\" placeholder=\"reason (audited)\"></label>",
                    options("production")
                ),
                "Deploy",
                "action",
            ));
            out.push_str(&form(
                &format!("{base}/rollback"),
                viewer,
                &format!(
                    "<label>Roll back <select name=\"stage\">{}</select></label>\
                     <label>because <input name=\"reason\" required maxlength=\"500\" placeholder=\"reason (audited)\"></label>\
                     <label><input type=\"checkbox\" name=\"confirm\" value=\"production\"> yes, roll back production</label>",
                    options("production")
                ),
                "Roll back",
                "action danger",
            ));
        }
        if can.promote {
            out.push_str(&form(
                &format!("{base}/promote"),
                viewer,
                &format!(
                    "<label>Promote <select name=\"from_stage\">{}</select></label>\
                     <label>to <select name=\"to_stage\">{}</select></label>",
                    options("staging"),
                    options("production")
                ),
                "Promote",
                "action",
            ));
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    out.push_str(&rollouts_section(state, viewer, name, &can).await?);

    // pending promotions
    let requests = db
        .query(
            role,
            "SELECT r.id, r.model_id, r.from_stage, r.to_stage, r.approvals_required, r.requested_by::text,
                    to_char((r.requested_at)::timestamptz, 'YYYY-MM-DD HH24:MI TZ'),
                    (SELECT count(*) FROM pgml.promotion_reviews v WHERE v.request_id = r.id AND v.decision = 'approve')
             FROM pgml.promotion_requests r JOIN pgml.projects p ON p.id = r.project_id
             WHERE p.name = $1 AND r.status = 'pending' ORDER BY r.id",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let request_rows: Vec<Vec<String>> = requests
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let mut row = vec![
                id.to_string(),
                model_link(r.get(1)),
                format!("{} → {}", opt(r.get::<_, Option<String>>(2)), esc(&r.get::<_, String>(3))),
                format!("{} of {}", r.get::<_, i64>(7), r.get::<_, i32>(4)),
                esc(&r.get::<_, String>(5)),
                esc(&r.get::<_, String>(6)),
            ];
            if can.review {
                let comment = "<input name=\"comment\" placeholder=\"comment\" maxlength=\"500\">";
                row.push(format!(
                    "{}{}",
                    form(&format!("/ui/requests/{id}/approve"), viewer, comment, "Approve", "inline"),
                    form(&format!("/ui/requests/{id}/reject"), viewer, comment, "Reject", "inline danger")
                ));
            }
            row
        })
        .collect();
    let mut headers = vec!["request", "model", "stages", "approvals", "requested by", "at"];
    if can.review {
        headers.push("review");
    }
    out.push_str(&section_table("requests", "Pending promotions", &headers, &request_rows));

    // the deployment timeline
    let history = db
        .query(
            role,
            "SELECT stage, model_id, strategy::text, deployed_by::text, replaced_model_id,
                    to_char((deployed_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), to_char((served_until)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ')
             FROM pgml.deployment_history WHERE project = $1 ORDER BY deployed_at DESC, id DESC LIMIT 200",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let history_rows: Vec<Vec<String>> = history
        .iter()
        .map(|r| {
            let strategy: Option<String> = r.get(2);
            let shown = match strategy.as_deref() {
                Some("rollback") => badge("rejected", "rollback"),
                Some(s) => esc(s),
                None => "–".into(),
            };
            vec![
                esc(&r.get::<_, String>(0)),
                model_link(r.get(1)),
                shown,
                esc(&r.get::<_, String>(3)),
                r.get::<_, Option<i64>>(4).map_or("–".into(), model_link),
                esc(&r.get::<_, String>(5)),
                r.get::<_, Option<String>>(6).map_or_else(|| badge("serving", "serving"), |t| esc(&t)),
            ]
        })
        .collect();
    out.push_str(&section_table(
        "timeline",
        "Deployments",
        &["stage", "model", "strategy", "deployed by", "replaced", "from", "until"],
        &history_rows,
    ));

    // models: sorted and filtered on the server, by links and a GET form
    let min = ModelsQuery::given(&q.min).and_then(|m| m.parse::<f64>().ok());
    let mut shown: Vec<&tokio_postgres::Row> = models
        .iter()
        .filter(|r| ModelsQuery::given(&q.algorithm).is_none_or(|a| r.get::<_, String>(1) == a))
        .filter(|r| {
            let id: i64 = r.get(0);
            let status: String = if serving.contains(&id) { "serving".into() } else { r.get(2) };
            ModelsQuery::given(&q.status).is_none_or(|s| status == s)
        })
        .filter(|r| {
            min.is_none_or(|m| json(r.get(4)).get(metric).and_then(Value::as_f64).is_some_and(|v| v >= m))
        })
        .collect();
    let sort = ModelsQuery::given(&q.sort).unwrap_or("model");
    let descending = ModelsQuery::given(&q.order).is_none_or(|o| o != "asc");
    let key_of =
        |r: &tokio_postgres::Row| json(r.get(4)).get(metric).and_then(Value::as_f64).unwrap_or(f64::NAN);
    shown.sort_by(|a, b| {
        let by = match sort {
            "algorithm" => a.get::<_, String>(1).cmp(&b.get::<_, String>(1)),
            "status" => a.get::<_, String>(2).cmp(&b.get::<_, String>(2)),
            "metric" => key_of(a).total_cmp(&key_of(b)),
            _ => std::cmp::Ordering::Equal,
        };
        by.then(a.get::<_, i64>(0).cmp(&b.get::<_, i64>(0)))
    });
    if descending {
        shown.reverse();
    }
    let model_rows: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let status: String = r.get(2);
            let mut row = vec![
                model_link(id),
                esc(&r.get::<_, String>(1)),
                if serving.contains(&id) { badge("serving", "serving") } else { badge(&status, &status) },
                num(json(r.get(4)).get(metric).and_then(Value::as_f64)),
                esc(&r.get::<_, String>(3)),
            ];
            if can.archive {
                row.push(if status == "archived" || serving.contains(&id) {
                    String::new()
                } else {
                    form(&format!("/ui/models/{id}/archive"), viewer, "", "Archive", "inline danger")
                });
            }
            row
        })
        .collect();
    let mut headers: Vec<String> = [
        ("model", "model"),
        ("algorithm", "algorithm"),
        ("status", "status"),
        ("metric", metric),
        ("trained", "trained"),
    ]
    .iter()
    .map(|(key, title)| {
        let current = sort == *key || (*key == "trained" && sort == "model");
        let next = if current && descending { "asc" } else { "desc" };
        let arrow = if sort == *key {
            if descending {
                " ↓"
            } else {
                " ↑"
            }
        } else {
            ""
        };
        format!("<a href=\"{base}?{}#models\">{}{arrow}</a>", q.with_sort(key, next), esc(title))
    })
    .collect();
    if can.archive {
        headers.push(String::new());
    }
    let mut algorithms: Vec<String> = models.iter().map(|r| r.get::<_, String>(1)).collect();
    algorithms.sort();
    algorithms.dedup();
    let choice = |name: &str, all: &[String], chosen: &Option<String>| -> String {
        let mut out = format!("<select name=\"{name}\"><option value=\"\">any</option>");
        for a in all {
            let selected = if ModelsQuery::given(chosen) == Some(a.as_str()) { " selected" } else { "" };
            let _ = write!(out, "<option{selected}>{}</option>", esc(a));
        }
        out.push_str("</select>");
        out
    };
    let statuses: Vec<String> = ["serving", "successful", "archived", "failed", "in_progress"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let _ = write!(
        out,
        "<section id=\"models\"><h2>Models</h2>\
         <form method=\"get\" action=\"{base}\" class=\"inline\" id=\"models-filter\">\
         <input type=\"hidden\" name=\"sort\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"{}\">\
         <label>algorithm {}</label><label>status {}</label>\
         <label>{} ≥ <input name=\"min\" size=\"6\" inputmode=\"decimal\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button> <a href=\"{base}#models\">clear</a></form>\
         <p>{} of {} models.</p>{}\
         <form method=\"get\" action=\"{base}/compare\" class=\"inline\" id=\"compare-form\">\
         <label>Compare models <input name=\"models\" placeholder=\"e.g. 3,5,8\" size=\"12\" required></label>\
         <button type=\"submit\">Compare</button></form></section>",
        esc(sort),
        if descending { "desc" } else { "asc" },
        choice("algorithm", &algorithms, &q.algorithm),
        choice("status", &statuses, &q.status),
        esc(metric),
        esc(ModelsQuery::given(&q.min).unwrap_or("")),
        shown.len(),
        models.len(),
        table_html(&headers, &model_rows, "models-table"),
    );

    // schedules and their runs
    let schedules = db
        .query(
            role,
            "SELECT kind, schedule, coalesce(algorithm, ''), created_by::text FROM pgml.schedules WHERE project_name = $1 ORDER BY kind",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let runs = db
        .query(
            role,
            "SELECT kind, to_char((started_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), outcome, model_id, deployed, dataset_drifted, error
             FROM pgml.scheduled_runs WHERE project_name = $1 ORDER BY id DESC LIMIT 10",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let schedule_rows: Vec<Vec<String>> =
        schedules.iter().map(|r| (0..4).map(|i| esc(&r.get::<_, String>(i))).collect()).collect();
    let run_rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let outcome: String = r.get(2);
            vec![
                esc(&r.get::<_, String>(0)),
                esc(&r.get::<_, String>(1)),
                badge(&outcome, &outcome),
                r.get::<_, Option<i64>>(3).map_or("–".into(), model_link),
                opt(r.get::<_, Option<bool>>(4)),
                opt(r.get::<_, Option<bool>>(5)),
                opt(r.get::<_, Option<String>>(6)),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<section id=\"schedules\"><h2>Schedules</h2>{}<h2>Last runs</h2>{}</section>",
        table(&["kind", "schedule", "algorithm", "created by"], &schedule_rows, "schedules-table"),
        table(
            &["kind", "started", "outcome", "model", "deployed", "drifted", "error"],
            &run_rows,
            "runs-table"
        )
    );

    // the audit trail
    let audit = db
        .query(
            role,
            "SELECT to_char((at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), event, role::text, model_id, stage, details::text
             FROM pgml.audit_log WHERE project = $1 ORDER BY id DESC LIMIT 25",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let audit_rows: Vec<Vec<String>> = audit
        .iter()
        .map(|r| {
            vec![
                esc(&r.get::<_, String>(0)),
                esc(&r.get::<_, String>(1)),
                esc(&r.get::<_, String>(2)),
                r.get::<_, Option<i64>>(3).map_or("–".into(), model_link),
                opt(r.get::<_, Option<String>>(4)),
                format!("<code>{}</code>", esc(&r.get::<_, String>(5))),
            ]
        })
        .collect();
    out.push_str(&section_table(
        "audit",
        "Recent events",
        &["at", "event", "role", "model", "stage", "details"],
        &audit_rows,
    ));
    Ok(out)
}

/// One model: algorithm, hyperparameters, every metric, the search, the feature schema with
/// its preprocessing, fit time, size, and the drift of its latest check.
pub async fn model(state: &AppState, viewer: &Viewer<'_>, id: i64) -> ApiResult<String> {
    let role = viewer.role;
    let db = &state.db;
    let rows = db
        .query(
            role,
            "SELECT p.name, p.task::text, m.algorithm, m.status, m.hyperparams::text, m.metrics::text, m.search,
                    m.search_params::text, to_char((m.created_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), s.columns::text,
                    s.relation_name, (SELECT sum(octet_length(f.data))::bigint FROM pgml.files f WHERE f.model_id = m.id),
                    (SELECT substring(f.data FROM 1 FOR 1048576) FROM pgml.files f
                      WHERE f.model_id = m.id AND f.path = 'model' ORDER BY f.part LIMIT 1),
                    (SELECT string_agg(d.stage, ', ' ORDER BY d.stage) FROM pgml.stage_deployments d WHERE d.model_id = m.id)
             FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
             LEFT JOIN pgml.snapshots s ON s.id = m.snapshot_id WHERE m.id = $1",
            &[(&id, Type::INT8)],
        )
        .await?;
    let r = rows.first().ok_or_else(|| ApiError::not_found(format!("model {id} does not exist")))?;
    let (project, task, algorithm, status): (String, String, String, String) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    let metrics = json(r.get(5));
    let serving: Option<String> = r.get(13);
    let mut out = format!(
        "<h1>Model {id} <span class=\"badge\">{}</span> {}</h1><section><dl class=\"facts\">",
        esc(&algorithm),
        match &serving {
            Some(stages) => badge("serving", &format!("serving {stages}")),
            None => badge(&status, &status),
        }
    );
    let fit = metrics.get("fit_time").and_then(Value::as_f64);
    let size: Option<i64> = r.get(11);
    for (k, v) in [
        ("project", project_link(&project)),
        ("task", esc(&task)),
        ("trained", esc(&r.get::<_, String>(8))),
        ("relation", opt(r.get::<_, Option<String>>(10))),
        ("fit time", fit.map_or("–".into(), |s| format!("{s:.3} s"))),
        ("size", size.map_or("–".into(), |b| format!("{:.1} kB", b as f64 / 1024.0))),
        ("search", opt(r.get::<_, Option<String>>(6))),
    ] {
        let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl></section>");
    if let Some(hp) = json(r.get(4)).as_object() {
        let hp_rows: Vec<Vec<String>> =
            hp.iter().map(|(k, v)| vec![esc(k), format!("<code>{}</code>", esc(&v.to_string()))]).collect();
        out.push_str(&section_table("hyperparams", "Hyperparameters", &["name", "value"], &hp_rows));
    }
    let metric_rows: Vec<Vec<String>> = metrics
        .as_object()
        .into_iter()
        .flat_map(|o| o.iter())
        .filter(|(k, _)| k.as_str() != "search_results")
        .map(|(k, v)| vec![esc(k), v.as_f64().map_or_else(|| esc(&v.to_string()), |x| num(Some(x)))])
        .collect();
    out.push_str(&section_table("metrics", "Metrics", &["metric", "value"], &metric_rows));
    if let Some(results) = metrics.get("search_results") {
        let _ =
            write!(out, "<section id=\"search\"><h2>Search results</h2>{}</section>", search_table(results));
    }

    // the feature schema, with what preprocessing does to each feature
    let header =
        r.get::<_, Option<&[u8]>>(12).and_then(|b| pgml_core::artifact::LoadedModel::read_header(b).ok());
    let steps = header.as_ref().and_then(|h| h.preprocess.as_ref()).map(|p| p.describe()).unwrap_or_default();
    let columns = json(r.get(9));
    let mut feature = 0usize;
    let schema_rows: Vec<Vec<String>> = columns
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let size = c.get("size").and_then(Value::as_u64).unwrap_or(1) as usize;
            let pre: Vec<String> = (feature..feature + size).filter_map(|i| steps.get(i).cloned()).collect();
            feature += size;
            let mut pre: Vec<String> = pre;
            pre.dedup();
            vec![
                esc(c.get("name").and_then(Value::as_str).unwrap_or("")),
                esc(c.get("pg_type").and_then(Value::as_str).unwrap_or("")),
                esc(c.get("kind").and_then(Value::as_str).unwrap_or("")),
                size.to_string(),
                if pre.is_empty() { "as is".into() } else { esc(&pre.join(" | ")) },
            ]
        })
        .collect();
    out.push_str(&section_table(
        "schema",
        "Features",
        &["column", "type", "kind", "features", "preprocessing"],
        &schema_rows,
    ));

    out.push_str(&evaluation_section(state, role, id).await);

    // why it predicts what it does: the training's global explanation and the importances (a
    // database before 0.8.0 has neither: the section says so)
    out.push_str("<section id=\"explanation\"><h2>Explanation</h2>");
    let stored = db
        .query(
            role,
            "SELECT explanation::text, origin::text FROM pgml.models WHERE id = $1",
            &[(&id, Type::INT8)],
        )
        .await
        .ok()
        .and_then(|rows| rows.first().map(|r| (json(r.get(0)), json(r.get(1)))));
    let (global, origin) = stored.unwrap_or((Value::Null, Value::Null));
    if let Some(format) = origin.get("format").and_then(Value::as_str) {
        let _ = write!(
            out,
            "<p>Imported from a {} file{} by {}.</p>",
            esc(format),
            origin.pointer("/from/project").and_then(Value::as_str).map_or(String::new(), |p| format!(
                " (model {} of project {})",
                origin.pointer("/from/model_id").map_or("?".into(), |v| v.to_string()),
                esc(p)
            )),
            esc(origin.get("imported_by").and_then(Value::as_str).unwrap_or("?"))
        );
    }
    let mut bars: Vec<(String, f64, bool)> = global
        .get("mean_abs_attribution")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?, false)))
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if bars.is_empty() {
        out.push_str(
            "<p class=\"none\">No global explanation stored: trainings of XGBoost, LightGBM and linear models \
             from pgml-rs 0.8.0 on store one (pgml.global_explain).</p>",
        );
    } else {
        let _ = write!(
            out,
            "<h3>Mean |attribution| over {} test rows ({})</h3>{}",
            global.get("rows").and_then(Value::as_u64).unwrap_or(0),
            esc(global.get("method").and_then(Value::as_str).unwrap_or("")),
            chart::feature_bars("mean |attribution|", &bars, None)
        );
    }
    if let Ok(importance) = db
        .query(
            role,
            "SELECT feature, importance_type, importance, output FROM pgml.feature_importance($1)",
            &[(&id, Type::INT8)],
        )
        .await
    {
        let mut kinds: Vec<String> = Vec::new();
        let mut features: Vec<String> = Vec::new();
        let mut values = std::collections::HashMap::new();
        for r in &importance {
            let (feature, kind, value, output): (String, String, f64, Option<String>) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let kind = match output {
                Some(o) if kind == "coefficient" => format!("coefficient ({o})"),
                _ => kind,
            };
            if !kinds.contains(&kind) {
                kinds.push(kind.clone());
            }
            if !features.contains(&feature) {
                features.push(feature.clone());
            }
            values.insert((feature, kind), value);
        }
        if !features.is_empty() {
            let rows: Vec<Vec<String>> = features
                .iter()
                .map(|f| {
                    std::iter::once(esc(f))
                        .chain(kinds.iter().map(|k| num(values.get(&(f.clone(), k.clone())).copied())))
                        .collect()
                })
                .collect();
            let mut headers = vec!["feature"];
            headers.extend(kinds.iter().map(String::as_str));
            let _ = write!(out, "<h3>Feature importance</h3>{}", table(&headers, &rows, "importance-table"));
        }
    }
    out.push_str("</section>");

    // the drift of the latest scheduled check of this model
    let drift = db
        .query(
            role,
            "SELECT to_char((started_at)::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'), dataset_drifted, details::text
             FROM pgml.scheduled_runs WHERE model_id = $1 AND kind = 'drift' AND outcome = 'succeeded'
             ORDER BY id DESC LIMIT 1",
            &[(&id, Type::INT8)],
        )
        .await?;
    out.push_str("<section id=\"drift\"><h2>Drift</h2>");
    match drift.first() {
        None => out
            .push_str("<p class=\"none\">No drift check of this model yet (pgml.schedule_drift_check).</p>"),
        Some(d) => {
            let details = json(d.get(2));
            let features: Vec<&Value> = details.as_array().into_iter().flatten().collect();
            let _ = write!(
                out,
                "<p>Checked {}: {}</p>",
                esc(&d.get::<_, String>(0)),
                if d.get::<_, Option<bool>>(1) == Some(true) {
                    badge("drifted", "dataset drifted")
                } else {
                    badge("ok", "no dataset drift")
                }
            );
            for statistic in ["psi", "js_distance", "ks_p_value"] {
                let bars: Vec<(String, f64, bool)> = features
                    .iter()
                    .filter_map(|f| {
                        let v = f.get(statistic)?.as_f64()?;
                        let name = f.get("feature")?.as_str()?.to_string();
                        Some((name, v, f.get("drifted").and_then(Value::as_bool).unwrap_or(false)))
                    })
                    .collect();
                if !bars.is_empty() {
                    let _ = write!(
                        out,
                        "<h3>{}</h3>{}",
                        esc(statistic),
                        chart::feature_bars(statistic, &bars, None)
                    );
                }
            }
        }
    }
    out.push_str("</section>");
    if monitored(state, role).await? {
        let live = db
            .query(
                role,
                "SELECT stage, to_char((bucket_start)::timestamptz, 'YYYY-MM-DD HH24:MI TZ'), predictions, labelled,
                        COALESCE(accuracy, r2), COALESCE(f1, mae), latency_p50_us, latency_p99_us, prediction_drift
                 FROM pgml.live_metrics($1, '1 day', '1 hour') WHERE model_id = $2 ORDER BY bucket_start DESC, stage",
                &[(&project, Type::TEXT), (&id, Type::INT8)],
            )
            .await?;
        let classification = task == "classification";
        let rows: Vec<Vec<String>> = live
            .iter()
            .map(|r| {
                vec![
                    esc(&r.get::<_, String>(0)),
                    opt(r.get::<_, Option<String>>(1)),
                    format!("{:.0}", r.get::<_, f64>(2)),
                    format!("{:.0}", r.get::<_, f64>(3)),
                    num(r.get::<_, Option<f64>>(4)),
                    num(r.get::<_, Option<f64>>(5)),
                    num(r.get::<_, Option<f64>>(6)),
                    num(r.get::<_, Option<f64>>(7)),
                    num(r.get::<_, Option<f64>>(8)),
                ]
            })
            .collect();
        let (a, b) = if classification { ("accuracy", "f1") } else { ("r2", "mae") };
        out.push_str(&section_table(
            "live",
            "Live metrics (last day, per hour)",
            &["stage", "hour (UTC)", "predictions", "labelled", a, b, "p50 µs", "p99 µs", "prediction drift"],
            &rows,
        ));
    }
    if abilities(state, role).await?.archive && status != "archived" && serving.is_none() {
        out.push_str(&form(
            &format!("/ui/models/{id}/archive"),
            viewer,
            "",
            "Archive this model",
            "action danger",
        ));
    }
    Ok(out)
}

/// scikit-learn's `cv_results_` shape: `params` (a list of objects) and per-score lists.
/// Two to four models of a project side by side: algorithm, status, every hyperparameter and
/// every metric, the rows where they differ marked.
pub async fn compare(state: &AppState, viewer: &Viewer<'_>, name: &str, models: &str) -> ApiResult<String> {
    let mut ids: Vec<i64> = Vec::new();
    for part in models.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        let id = part
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("\"{part}\" is not a model id")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if !(2..=4).contains(&ids.len()) {
        return Err(ApiError::bad_request(format!(
            "compare two to four models of project \"{name}\", not {} (for example models=3,5)",
            ids.len()
        )));
    }
    let rows = state
        .db
        .query(
            viewer.role,
            "SELECT m.id, m.algorithm, m.status, m.hyperparams::text, m.metrics::text,
                    to_char((m.created_at)::timestamptz, 'YYYY-MM-DD HH24:MI TZ')
             FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
             WHERE p.name = $1 AND m.id = ANY($2) ORDER BY array_position($2, m.id)",
            &[(&name, Type::TEXT), (&ids, Type::INT8_ARRAY)],
        )
        .await?;
    if let Some(missing) = ids.iter().find(|id| !rows.iter().any(|r| r.get::<_, i64>(0) == **id)) {
        return Err(ApiError::not_found(format!("project \"{name}\" has no model {missing}")));
    }
    let hyper: Vec<Value> = rows.iter().map(|r| json(r.get(3))).collect();
    let metrics: Vec<Value> = rows.iter().map(|r| json(r.get(4))).collect();
    let keys = |values: &[Value]| -> Vec<String> {
        let mut k: Vec<String> =
            values.iter().flat_map(|v| v.as_object().into_iter().flat_map(|o| o.keys().cloned())).collect();
        k.sort();
        k.dedup();
        k
    };
    let shown = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "–".to_string(),
        Some(Value::Number(n)) => n.as_f64().map_or_else(|| n.to_string(), |f| num(Some(f))),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut body = String::new();
    let mut differing = 0;
    let mut row = |label: &str, cells: Vec<String>, body: &mut String| {
        let differs = cells.windows(2).any(|w| w[0] != w[1]);
        differing += usize::from(differs);
        let class = if differs { " class=\"diff\"" } else { "" };
        let _ = write!(body, "<tr><th scope=\"row\">{}</th>", esc(label));
        for c in cells {
            let _ = write!(body, "<td{class}>{}</td>", esc(&c));
        }
        body.push_str("</tr>");
    };
    row("algorithm", rows.iter().map(|r| r.get::<_, String>(1)).collect(), &mut body);
    row("status", rows.iter().map(|r| r.get::<_, String>(2)).collect(), &mut body);
    row("trained", rows.iter().map(|r| r.get::<_, String>(5)).collect(), &mut body);
    body.push_str("<tr><th colspan=\"5\">hyperparameters</th></tr>");
    for k in keys(&hyper) {
        if k == "search_results" {
            continue;
        }
        row(&k, hyper.iter().map(|h| shown(h.get(&k))).collect(), &mut body);
    }
    body.push_str("<tr><th colspan=\"5\">metrics</th></tr>");
    for k in keys(&metrics) {
        if k == "search_results" {
            continue;
        }
        row(&k, metrics.iter().map(|m| shown(m.get(&k))).collect(), &mut body);
    }
    let mut out = format!(
        "<h1>Comparing models of {}</h1><section id=\"compare\"><p>{differing} rows differ (marked).</p>\
         <div class=\"scroll\"><table id=\"compare-table\"><thead><tr><th></th>",
        project_link(name)
    );
    for r in &rows {
        let _ = write!(out, "<th>{}</th>", model_link(r.get(0)));
    }
    let _ = write!(out, "</tr></thead><tbody>{body}</tbody></table></div></section>");
    Ok(out)
}

/// What the model did on its test rows (an import's holdout), stored at training: a
/// classifier's confusion matrix and ROC and precision-recall curves; a regression's
/// predicted against actual values and its residuals. Models trained before 0.9.0 (or a
/// database not yet updated) have none, and the section says so.
async fn evaluation_section(state: &AppState, role: &str, id: i64) -> String {
    let stored = state
        .db
        .query(role, "SELECT evaluation::text FROM pgml.models WHERE id = $1", &[(&id, Type::INT8)])
        .await
        .ok()
        .and_then(|rows| rows.first().map(|r| json(r.get(0))))
        .unwrap_or(Value::Null);
    let mut out = String::from("<section id=\"evaluation\"><h2>Evaluation on the test split</h2>");
    if stored.is_null() {
        out.push_str(
            "<p class=\"none\">No evaluation stored: trainings (and imports with a holdout) from pgml-rs 0.9.0 on \
             store the confusion matrix and curves, or predicted against actual values. Retrain the model to see them.</p></section>",
        );
        return out;
    }
    let rows = stored.get("rows").and_then(Value::as_u64).unwrap_or(0);
    let _ = write!(out, "<p>{rows} rows.</p>");
    let label = |v: &Value| {
        v.as_f64().map_or("?".into(), |v| if v.fract() == 0.0 { format!("{v:.0}") } else { v.to_string() })
    };
    let classes: Vec<String> =
        stored.get("classes").and_then(Value::as_array).map_or(Vec::new(), |c| c.iter().map(label).collect());
    if let Some(matrix) = stored.get("confusion").and_then(Value::as_array) {
        let counts: Vec<Vec<u64>> = matrix
            .iter()
            .map(|r| r.as_array().map_or(Vec::new(), |r| r.iter().filter_map(Value::as_u64).collect()))
            .collect();
        let most = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let mut t = String::from("<div class=\"scroll\"><table class=\"confusion\" id=\"confusion-table\"><thead><tr><th>actual ↓ predicted →</th>");
        for c in &classes {
            let _ = write!(t, "<th>{}</th>", esc(c));
        }
        t.push_str("</tr></thead><tbody>");
        for (i, row) in counts.iter().enumerate() {
            let _ =
                write!(t, "<tr><th scope=\"row\">{}</th>", esc(classes.get(i).map_or("?", String::as_str)));
            for (j, n) in row.iter().enumerate() {
                // five shades (the page's policy allows no inline style)
                let shade = ((*n as f64 / most) * 5.0).ceil() as u32;
                let kind = if i == j { "hit" } else { "miss" };
                let _ = write!(t, "<td class=\"{kind} h{shade}\">{n}</td>");
            }
            t.push_str("</tr>");
        }
        t.push_str("</tbody></table></div>");
        let _ = write!(out, "<h3>Confusion matrix</h3>{t}");
    }
    if let Some(curves) = stored.get("curves").and_then(Value::as_array).filter(|c| !c.is_empty()) {
        let series = |key: &str, area: &str| -> Vec<(String, Vec<[f32; 2]>)> {
            curves
                .iter()
                .map(|c| {
                    let points = c.get(key).and_then(Value::as_array).map_or(Vec::new(), |p| {
                        p.iter()
                            .filter_map(|p| Some([p.get(0)?.as_f64()? as f32, p.get(1)?.as_f64()? as f32]))
                            .collect()
                    });
                    let name = format!(
                        "class {} ({area} {})",
                        c.get("class").map_or("?".into(), label),
                        c.get(if key == "roc" { "roc_auc" } else { "average_precision" })
                            .and_then(Value::as_f64)
                            .map_or("?".into(), |v| format!("{v:.3}"))
                    );
                    (name, points)
                })
                .collect()
        };
        let _ = write!(
            out,
            "<div class=\"pair\"><div><h3>ROC</h3>{}</div><div><h3>Precision and recall</h3>{}</div></div>",
            chart::unit_curves(
                "ROC curves",
                "false positive rate",
                "true positive rate",
                &series("roc", "AUC"),
                true
            ),
            chart::unit_curves("precision-recall curves", "recall", "precision", &series("pr", "AP"), false)
        );
    } else if !classes.is_empty() {
        out.push_str("<p class=\"none\">No curves: the model gives no class probabilities.</p>");
    }
    if let Some(points) = stored.get("points").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        let pairs: Vec<(f64, f64)> =
            points.iter().filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?))).collect();
        let residuals: Vec<(f64, f64)> = pairs.iter().map(|(a, p)| (*p, p - a)).collect();
        let _ = write!(
            out,
            "<div class=\"pair\"><div><h3>Predicted against actual ({} rows shown)</h3>{}</div><div><h3>Residuals</h3>{}</div></div>",
            pairs.len(),
            chart::scatter("predicted against actual", "actual", "predicted", &pairs, true),
            chart::scatter("residuals against predicted", "predicted", "predicted − actual", &residuals, false)
        );
    }
    out.push_str("</section>");
    out
}

fn search_table(results: &Value) -> String {
    let Some(params) = results.get("params").and_then(Value::as_array) else {
        return format!("<pre>{}</pre>", esc(&results.to_string()));
    };
    let scores: Vec<(&String, &Vec<Value>)> = results
        .as_object()
        .into_iter()
        .flat_map(|o| o.iter())
        .filter(|(k, _)| {
            k.starts_with("mean_test") || k.starts_with("rank_test") || k.starts_with("std_test")
        })
        .filter_map(|(k, v)| v.as_array().map(|a| (k, a)))
        .collect();
    let mut headers = vec!["params"];
    headers.extend(scores.iter().map(|(k, _)| k.as_str()));
    let rows: Vec<Vec<String>> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut row = vec![format!("<code>{}</code>", esc(&p.to_string()))];
            row.extend(scores.iter().map(|(_, v)| {
                v.get(i).map_or("–".into(), |x| {
                    x.as_f64().map_or_else(|| esc(&x.to_string()), |f| num(Some(f)))
                })
            }));
            row
        })
        .collect();
    table(&headers, &rows, "search-table")
}

/// A project's rollouts, running first: each arm's labelled rows and mean loss, the test's
/// current interval for "candidate minus baseline" against the margin, and for a running one the
/// buttons that stop it or promote its candidate (as the viewer's role). Nothing before schema
/// 0.7.0, which has no rollouts.
async fn rollouts_section(
    state: &AppState,
    viewer: &Viewer<'_>,
    name: &str,
    can: &Abilities,
) -> ApiResult<String> {
    let rows = match state
        .db
        .query(
            viewer.role,
            "SELECT r.id, r.stage, r.mode, r.phase, r.percent, r.baseline_id, r.candidate_id, r.state, r.loss,
                    r.labelled_rows, r.estimate, r.lower_bound, r.upper_bound, r.margin,
                    (r.statistics -> 'baseline' ->> 'rows')::float8, (r.statistics -> 'baseline' ->> 'mean_loss')::float8,
                    (r.statistics -> 'candidate' ->> 'rows')::float8, (r.statistics -> 'candidate' ->> 'mean_loss')::float8,
                    to_char((r.started_at)::timestamptz, 'YYYY-MM-DD HH24:MI TZ'), r.started_by::text, r.reason
             FROM pgml.rollouts_overview r WHERE r.project = $1
             ORDER BY r.state = 'running' DESC, r.id DESC LIMIT 20",
            &[(&name, Type::TEXT)],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) if e.code == "42P01" => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let arm = |rows: Option<f64>, loss: Option<f64>| {
        format!("{} rows, loss {}", opt(rows.map(|r| r as i64)), num(loss))
    };
    let mut running = Vec::new();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let state_text: String = r.get(7);
            if state_text == "running" {
                running.push(r.get::<_, String>(1));
            }
            let mode: String = r.get(2);
            let phase: String = r.get(3);
            let share = match phase.as_str() {
                "canary" => format!("{}, canary {}%", mode, r.get::<_, f64>(4)),
                _ => format!("{mode}, {phase}"),
            };
            let interval = match (r.get::<_, Option<f64>>(11), r.get::<_, Option<f64>>(12)) {
                (None, None) => "–".to_string(),
                (lower, upper) => format!("[{}, {}] (margin {})", num(lower), num(upper), num(r.get(13))),
            };
            vec![
                r.get::<_, i64>(0).to_string(),
                esc(&r.get::<_, String>(1)),
                esc(&share),
                format!("<a href=\"/ui/models/{0}\">{0}</a>", r.get::<_, i64>(5)),
                format!("<a href=\"/ui/models/{0}\">{0}</a>", r.get::<_, i64>(6)),
                badge(&state_text, &state_text),
                opt(r.get::<_, Option<String>>(8)),
                arm(r.get(14), r.get(15)),
                arm(r.get(16), r.get(17)),
                num(r.get(10)),
                interval,
                format!("{} by {}", esc(&r.get::<_, String>(18)), esc(&r.get::<_, String>(19))),
                opt(r.get::<_, Option<String>>(20)),
            ]
        })
        .collect();
    let mut out = format!(
        "<section id=\"rollouts\"><h2>Rollouts</h2>{}",
        table(
            &[
                "rollout",
                "stage",
                "mode",
                "baseline",
                "candidate",
                "state",
                "loss",
                "baseline arm",
                "candidate arm",
                "candidate − baseline",
                "interval",
                "started",
                "reason",
            ],
            &table_rows,
            "rollouts-table"
        )
    );
    if can.rollout && !running.is_empty() {
        out.push_str("<div class=\"actions\">");
        let base = format!("/ui/projects/{}/rollouts", seg(name));
        for stage in running {
            let fields = format!("<input type=\"hidden\" name=\"stage\" value=\"{}\">", esc(&stage));
            out.push_str(&form(
                &format!("{base}/stop"),
                viewer,
                &fields,
                &format!("Stop the rollout on {stage}"),
                "action danger",
            ));
            out.push_str(&form(
                &format!("{base}/promote"),
                viewer,
                &fields,
                &format!("Promote its candidate to {stage}"),
                "action",
            ));
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
    Ok(out)
}

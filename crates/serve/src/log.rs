//! pgml-serve's side of the prediction log. Every prediction it answers — in process or through
//! the database — gets a request id (the caller's, or a UUIDv7) returned in the response; the
//! project's logging settings decide which are logged. A logged one becomes a record in a
//! bounded in-memory queue: a full queue drops the record and counts it, a request never waits.
//! One task writes the queue each second through `pgml._pgml_log_write`, which stores the
//! records as the database's own writers do (binary COPY into `pgml.prediction_log` and the
//! live statistics, in one transaction). The settings are read every 10 seconds, and with them
//! the open alerts, which `/metrics` shows as Prometheus series.

use crate::db::Db;
use pgml_core::monitoring::request_id::now_micros;
use pgml_core::monitoring::sampling::Decision;
use pgml_core::monitoring::{LogRecord, RequestIds, Sampler, Settings, Source};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;

/// Records held between two writes (about 10 MB): beyond, records are dropped and counted.
const QUEUE: usize = 100_000;
const WRITE_EVERY: Duration = Duration::from_secs(1);
const SETTINGS_EVERY: Duration = Duration::from_secs(10);

pub struct PredictionLog {
    queue: Mutex<Vec<LogRecord>>,
    /// project → (id, settings); empty until read, and when the database has no log (pgml
    /// older than 0.6.0, or the server's login may not read the settings).
    settings: RwLock<HashMap<String, (i64, Settings)>>,
    ids: Mutex<RequestIds>,
    requests: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    /// The open alerts of `pgml.alerts`, as last read.
    alerts: RwLock<Vec<OpenAlert>>,
}

/// An open alert, for `/metrics`.
struct OpenAlert {
    project: String,
    rule: String,
    stage: String,
    model_id: i64,
    metric: String,
    value: Option<f64>,
    opened_at: f64,
}

impl Default for PredictionLog {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        PredictionLog {
            queue: Mutex::new(Vec::new()),
            settings: RwLock::new(HashMap::new()),
            ids: Mutex::new(RequestIds::new(seed)),
            requests: AtomicU64::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            alerts: RwLock::new(Vec::new()),
        }
    }
}

/// One answered request, as the handler knows it.
pub struct Answered<'a> {
    pub project: &'a str,
    pub stage: &'a str,
    pub model_id: i64,
    pub started: Instant,
    /// Values per instance of `answers`: 1 for predictions, the number of classes for probabilities.
    pub width: usize,
    pub answers: &'a [f32],
    /// The class labels in the probabilities' order, when known (the in-process path).
    pub classes: Option<&'a [f32]>,
    /// The instances' features in the model's order, when the request gave them in that order.
    pub features: Option<&'a [f32]>,
    pub keys: Option<&'a [String]>,
    pub request_ids: &'a [[u8; 16]],
}

impl PredictionLog {
    /// Request ids for `n` instances: the caller's where given, new UUIDv7s otherwise.
    pub fn request_ids(&self, n: usize, given: Option<Vec<[u8; 16]>>) -> Vec<[u8; 16]> {
        if let Some(ids) = given {
            return ids;
        }
        let at = now_micros();
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        (0..n).map(|_| ids.uuid_v7(at)).collect()
    }

    /// Queues the sampled records of one answered request (a request is sampled as a
    /// statement: its first `scan_after` instances at `sample`, the rest at `scan_sample`).
    /// Queues the records of an answered request, sampled as the project's settings say;
    /// returns the instances logged and their weights (a shadow scores only those).
    pub fn record(&self, a: Answered) -> Vec<(usize, f32)> {
        self.record_as(a, Source::Http, None)
    }

    /// Queues a rollout candidate's shadow records of the instances `logged` (with their
    /// weights), under the answered request's ids.
    pub fn record_shadow(&self, a: Answered, logged: &[(usize, f32)]) {
        self.record_as(a, Source::Shadow, Some(logged));
    }

    fn record_as(&self, a: Answered, source: Source, only: Option<&[(usize, f32)]>) -> Vec<(usize, f32)> {
        let settings = {
            let map = self.settings.read().unwrap_or_else(|e| e.into_inner());
            match map.get(a.project) {
                Some(s) => *s,
                None => return Vec::new(),
            }
        };
        let (project_id, settings) = settings;
        let request = self.requests.fetch_add(1, Ordering::Relaxed) as i64;
        let instances = a.request_ids.len();
        let latency = a.started.elapsed().as_secs_f32() * 1e6;
        let at = now_micros();
        let mut sampler = Sampler::default();
        let mut records = Vec::new();
        let mut chosen = Vec::new();
        {
            let mut draws = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            for i in 0..instances {
                let decision = match only {
                    Some(logged) => match logged.iter().find(|(j, _)| *j == i) {
                        Some((_, weight)) => Decision { weight: *weight, keep_features: false },
                        None => continue,
                    },
                    None => match sampler.decide(&settings, (request, 0), &mut draws) {
                        Some(d) => d,
                        None => continue,
                    },
                };
                chosen.push((i, decision.weight));
                let answer =
                    &a.answers[(i * a.width).min(a.answers.len())..((i + 1) * a.width).min(a.answers.len())];
                let (prediction, probabilities) = match a.width {
                    1 => (answer.first().copied().unwrap_or(f32::NAN), Vec::new()),
                    _ => (top_class(answer, a.classes), answer.to_vec()),
                };
                let features = match (decision.keep_features, a.features) {
                    (true, Some(f)) if f.len() % instances.max(1) == 0 => {
                        let n = f.len() / instances.max(1);
                        f[i * n..(i + 1) * n].to_vec()
                    }
                    _ => Vec::new(),
                };
                records.push(LogRecord {
                    request_id: a.request_ids[i],
                    at_unix_micros: at,
                    project_id,
                    model_id: a.model_id,
                    source,
                    weight: decision.weight,
                    latency_micros: latency,
                    prediction,
                    stage: a.stage.to_string(),
                    key: a.keys.and_then(|k| k.get(i)).cloned(),
                    probabilities,
                    features,
                });
            }
        }
        if records.is_empty() {
            return chosen;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let room = QUEUE.saturating_sub(queue.len());
        if records.len() > room {
            self.dropped.fetch_add((records.len() - room) as u64, Ordering::Relaxed);
            records.truncate(room);
        }
        queue.extend(records);
        chosen
    }

    /// Reads every project's logging settings (as the server's login).
    async fn read_settings(&self, db: &Db) {
        let rows = db
            .query(
                "",
                "SELECT p.name, p.id, COALESCE(m.enabled, true), COALESCE(m.sample, 1.0)::float8,
                        COALESCE(m.scan_after, 100), COALESCE(m.scan_sample, 0.001)::float8,
                        COALESCE(m.features_sample, 0.01)::float8
                 FROM pgml.projects p LEFT JOIN pgml.monitoring m ON m.project_id = p.id",
                &[],
            )
            .await;
        let map: HashMap<String, (i64, Settings)> = match rows {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    let settings = Settings {
                        enabled: r.get(2),
                        sample: r.get(3),
                        scan_after: r.get::<_, i32>(4).max(0) as u32,
                        scan_sample: r.get(5),
                        features_sample: r.get(6),
                    };
                    (r.get::<_, String>(0), (r.get::<_, i64>(1), settings))
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e.message, "prediction log: no settings (pgml older than 0.6.0?)");
                HashMap::new()
            }
        };
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Writes what is queued; the records are counted written or dropped.
    async fn write(&self, db: &Db) {
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        // encoded on a blocking thread: a second of records (tens of thousands) encoded on the
        // runtime's own threads delayed the requests waiting behind it by milliseconds
        let encoded = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::with_capacity(batch.len() * 128);
            let mut record = Vec::with_capacity(256);
            for r in &batch {
                record.clear();
                r.encode(&mut record);
                bytes.extend_from_slice(&(record.len() as u32).to_le_bytes());
                bytes.extend_from_slice(&record);
            }
            bytes
        })
        .await;
        let Ok(bytes) = encoded else {
            self.dropped.fetch_add(n, Ordering::Relaxed);
            return;
        };
        match db.query("", "SELECT pgml._pgml_log_write($1)", &[(&bytes, Type::BYTEA)]).await {
            Ok(_) => self.written.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(records = n, error = %e.message, "prediction log: records not written");
                self.dropped.fetch_add(n, Ordering::Relaxed)
            }
        };
    }
}

impl PredictionLog {
    /// The open alerts (the server's login reads them as a predictor may); none when it cannot.
    async fn read_alerts(&self, db: &Db) {
        let rows = db
            .query(
                "",
                "SELECT p.name, a.rule_name, a.stage, a.model_id, a.metric, a.value,
                        extract(epoch FROM a.opened_at)::float8
                 FROM pgml.alerts a JOIN pgml.projects p ON p.id = a.project_id
                 WHERE a.state = 'open' ORDER BY p.name, a.rule_name, a.model_id",
                &[],
            )
            .await;
        let alerts = match rows {
            Ok(rows) => rows
                .iter()
                .map(|r| OpenAlert {
                    project: r.get(0),
                    rule: r.get(1),
                    stage: r.get(2),
                    model_id: r.get(3),
                    metric: r.get(4),
                    value: r.get(5),
                    opened_at: r.get(6),
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e.message, "open alerts not read (pgml older than 0.6.0?)");
                Vec::new()
            }
        };
        *self.alerts.write().unwrap_or_else(|e| e.into_inner()) = alerts;
    }

    /// The log's counters and the open alerts for `/metrics`.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let header = crate::metrics::header;
        let alerts = self.alerts.read().unwrap_or_else(|e| e.into_inner());
        header(out, "pgml_alerts_open", "Open alerts (pgml.alerts, read every 10 s).", "gauge");
        let _ = writeln!(out, "pgml_alerts_open {}", alerts.len());
        let labelled: Vec<(String, &OpenAlert)> = alerts
            .iter()
            .map(|a| {
                let labels = format!(
                    "project=\"{}\",rule=\"{}\",stage=\"{}\",model_id=\"{}\",metric=\"{}\"",
                    crate::metrics::escape(&a.project),
                    crate::metrics::escape(&a.rule),
                    crate::metrics::escape(&a.stage),
                    a.model_id,
                    crate::metrics::escape(&a.metric)
                );
                (labels, a)
            })
            .collect();
        header(
            out,
            "pgml_alert_open",
            "One series per open alert: its project, rule, stage, model and metric.",
            "gauge",
        );
        for (labels, _) in &labelled {
            let _ = writeln!(out, "pgml_alert_open{{{labels}}} 1");
        }
        header(out, "pgml_alert_value", "The metric's value when the alert opened.", "gauge");
        for (labels, a) in &labelled {
            if let Some(v) = a.value.filter(|v| v.is_finite()) {
                let _ = writeln!(out, "pgml_alert_value{{{labels}}} {v}");
            }
        }
        header(out, "pgml_alert_opened_timestamp_seconds", "When the alert opened.", "gauge");
        for (labels, a) in &labelled {
            let _ = writeln!(out, "pgml_alert_opened_timestamp_seconds{{{labels}}} {}", a.opened_at);
        }
        header(
            out,
            "pgml_log_records_total",
            "Predictions answered here and logged, by what became of their record.",
            "counter",
        );
        let _ = writeln!(
            out,
            "pgml_log_records_total{{state=\"written\"}} {}",
            self.written.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "pgml_log_records_total{{state=\"dropped\"}} {}",
            self.dropped.load(Ordering::Relaxed)
        );
    }
}

/// The most probable class's label (its index when the labels are not known).
fn top_class(probabilities: &[f32], classes: Option<&[f32]>) -> f32 {
    let best = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
    match (best, classes) {
        (Some(i), Some(c)) => c.get(i).copied().unwrap_or(f32::NAN),
        (Some(i), None) => i as f32,
        (None, _) => f32::NAN,
    }
}

/// The writer: settings every 10 s, the queue every second, until the process ends.
pub async fn run(log: std::sync::Arc<PredictionLog>, db: std::sync::Arc<Db>) {
    let mut settings_read = None::<Instant>;
    let mut tick = tokio::time::interval(WRITE_EVERY);
    loop {
        tick.tick().await;
        if settings_read.is_none_or(|t| t.elapsed() >= SETTINGS_EVERY) {
            log.read_settings(&db).await;
            log.read_alerts(&db).await;
            settings_read = Some(Instant::now());
        }
        log.write(&db).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_sampled_as_a_statement_and_a_full_queue_drops_and_counts() {
        let log = PredictionLog::default();
        let settings =
            Settings { scan_after: 2, scan_sample: 0.0, features_sample: 1.0, ..Settings::default() };
        log.settings.write().unwrap().insert("p".into(), (7, settings));
        let ids = log.request_ids(3, None);
        assert_ne!(ids[0], ids[1]);
        let answers = [0.2, 0.8, 0.9, 0.1, 0.5, 0.5];
        let features = [1.0, 2.0, 3.0];
        let keys = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        log.record(Answered {
            project: "p",
            stage: "production",
            model_id: 3,
            started: Instant::now(),
            width: 2,
            answers: &answers,
            classes: Some(&[10.0, 20.0]),
            features: Some(&features),
            keys: Some(&keys),
            request_ids: &ids,
        });
        let queue = log.queue.lock().unwrap();
        // the first 2 instances at rate 1, the third at scan_sample 0
        assert_eq!(queue.len(), 2);
        assert_eq!((queue[0].prediction, queue[1].prediction), (20.0, 10.0));
        assert_eq!(queue[1].features, vec![2.0]);
        assert_eq!(queue[1].key.as_deref(), Some("b"));
        assert_eq!(queue[0].request_id, ids[0]);
        assert_eq!((queue[0].project_id, queue[0].source), (7, Source::Http));
        drop(queue);
        // an unknown project is not logged
        log.record(Answered { project: "q", request_ids: &ids[..1], ..answered(&answers) });
        assert_eq!(log.queue.lock().unwrap().len(), 2);
        // a full queue drops
        let first = log.queue.lock().unwrap()[0].clone();
        log.queue.lock().unwrap().resize(QUEUE, first);
        log.record(Answered { project: "p", request_ids: &ids[..1], ..answered(&answers) });
        assert_eq!(log.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn open_alerts_are_series_with_escaped_labels() {
        let log = PredictionLog::default();
        *log.alerts.write().unwrap() = vec![OpenAlert {
            project: "Iris \"v2\"".into(),
            rule: "accuracy drop".into(),
            stage: "production".into(),
            model_id: 3,
            metric: "accuracy".into(),
            value: Some(0.5),
            opened_at: 1.8e9,
        }];
        let mut out = String::new();
        log.render(&mut out);
        let labels =
            r#"project="Iris \"v2\"",rule="accuracy drop",stage="production",model_id="3",metric="accuracy""#;
        assert!(out.contains("\npgml_alerts_open 1\n"), "{out}");
        assert!(out.contains(&format!("pgml_alert_open{{{labels}}} 1\n")), "{out}");
        assert!(out.contains(&format!("pgml_alert_value{{{labels}}} 0.5\n")), "{out}");
        assert!(
            out.contains(&format!("pgml_alert_opened_timestamp_seconds{{{labels}}} 1800000000\n")),
            "{out}"
        );
    }

    fn answered(answers: &[f32]) -> Answered<'_> {
        Answered {
            project: "p",
            stage: "production",
            model_id: 1,
            started: Instant::now(),
            width: 1,
            answers,
            classes: None,
            features: None,
            keys: None,
            request_ids: &[],
        }
    }
}

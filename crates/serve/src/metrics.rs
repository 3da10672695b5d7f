//! Prometheus metrics in the text exposition format: requests and errors by route and status,
//! a latency histogram per route, and the model id that last answered per project and stage.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

/// Latency bucket bounds in seconds: fine below 10 ms, where a predict answers.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One route's counts: (method, status) → requests, and its latency.
#[derive(Default)]
struct Route {
    requests: Vec<(String, u16, u64)>,
    latency: Histogram,
}

/// Looked up by &str on every request, so a request allocates nothing here.
#[derive(Default)]
struct Inner {
    routes: HashMap<String, Route>,
    /// project → stage → the model id that last answered.
    served: HashMap<String, HashMap<String, i64>>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one request: its route (the path pattern, never the raw path, so label sets
    /// stay bounded), method, status and duration.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !m.routes.contains_key(route) {
            m.routes.insert(route.to_string(), Route::default());
        }
        let r = m.routes.get_mut(route).expect("inserted above");
        match r.requests.iter_mut().find(|(m, s, _)| m == method && *s == status) {
            Some((_, _, n)) => *n += 1,
            None => r.requests.push((method.to_string(), status, 1)),
        }
        let h = &mut r.latency;
        h.count += 1;
        h.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            h.counts[i] += 1;
        }
    }

    /// Remembers which model answered a project's stage.
    pub fn served(&self, project: &str, stage: &str, model_id: i64) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if m.served.get(project).and_then(|s| s.get(stage)) != Some(&model_id) {
            m.served.entry(project.to_string()).or_default().insert(stage.to_string(), model_id);
        }
    }

    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let requests: BTreeMap<(&str, &str, u16), u64> = m
            .routes
            .iter()
            .flat_map(|(route, r)| {
                r.requests
                    .iter()
                    .map(move |(method, status, n)| ((route.as_str(), method.as_str(), *status), *n))
            })
            .collect();
        let latency: BTreeMap<&str, &Histogram> =
            m.routes.iter().map(|(route, r)| (route.as_str(), &r.latency)).collect();
        let served: BTreeMap<(&str, &str), i64> = m
            .served
            .iter()
            .flat_map(|(p, stages)| stages.iter().map(move |(s, id)| ((p.as_str(), s.as_str()), *id)))
            .collect();
        let mut out = String::new();
        out.push_str("# HELP pgml_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE pgml_http_requests_total counter\n");
        for ((route, method, status), n) in &requests {
            let _ = writeln!(
                out,
                "pgml_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP pgml_http_errors_total HTTP responses with a 4xx or 5xx status, by route and class.\n",
        );
        out.push_str("# TYPE pgml_http_errors_total counter\n");
        let mut errors: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for ((route, _, status), n) in &requests {
            let class = match status {
                400..=499 => "4xx",
                500..=599 => "5xx",
                _ => continue,
            };
            *errors.entry((route, class)).or_default() += n;
        }
        for ((route, class), n) in errors {
            let _ =
                writeln!(out, "pgml_http_errors_total{{route=\"{}\",class=\"{class}\"}} {n}", escape(route));
        }
        out.push_str("# HELP pgml_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE pgml_http_request_duration_seconds histogram\n");
        for (route, h) in &latency {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "pgml_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "pgml_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "pgml_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ =
                writeln!(out, "pgml_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out.push_str("# HELP pgml_served_model_id The model id that last answered a prediction, per project and stage.\n");
        out.push_str("# TYPE pgml_served_model_id gauge\n");
        for ((project, stage), id) in &served {
            let _ = writeln!(
                out,
                "pgml_served_model_id{{project=\"{}\",stage=\"{}\"}} {id}",
                escape(project),
                escape(stage)
            );
        }
        out
    }
}

/// A metric's HELP and TYPE lines.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the exposition format wants it.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.request("/v1/projects/{project}/predict", "POST", 200, 0.0008);
        m.request("/v1/projects/{project}/predict", "POST", 200, 0.003);
        m.request("/v1/projects/{project}/predict", "POST", 404, 0.0004);
        m.served("Iris \"v2\"", "production", 7);
        let text = m.render();
        let route = "route=\"/v1/projects/{project}/predict\"";
        assert!(
            text.contains(&format!("pgml_http_requests_total{{{route},method=\"POST\",status=\"200\"}} 2"))
        );
        assert!(text.contains(&format!("pgml_http_errors_total{{{route},class=\"4xx\"}} 1")));
        assert!(
            text.contains(&format!("pgml_http_request_duration_seconds_bucket{{{route},le=\"0.0005\"}} 1"))
        );
        assert!(
            text.contains(&format!("pgml_http_request_duration_seconds_bucket{{{route},le=\"0.001\"}} 2"))
        );
        assert!(
            text.contains(&format!("pgml_http_request_duration_seconds_bucket{{{route},le=\"0.005\"}} 3"))
        );
        assert!(text.contains(&format!("pgml_http_request_duration_seconds_count{{{route}}} 3")));
        assert!(text.contains("pgml_served_model_id{project=\"Iris \\\"v2\\\"\",stage=\"production\"} 7"));
    }
}

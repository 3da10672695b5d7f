//! How fresh pgml-serve's in-process predictions are (bench/serve.sh runs it under load):
//! deploys two models of a project in turn, `DEPLOYS` times, each in its own transaction, and
//! after each commit asks `POST /v1/projects/{project}/predict` until the new model answers.
//! Prints the time from the commit's return to that answer, per deploy, as
//! `deploys p50_ms p99_ms max_ms stale_answers`, where a stale answer is one from the model
//! the deploy replaced (counted, as the window being measured).
//!
//! With `strict` last, the requests ask for the database's path, where no answer may be stale.
//!
//! Usage: freshness <database url> <http base url> <token> <project> <model a> <model b> <deploys> [strict]

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection, just enough for a JSON POST.
struct Http {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
}

impl Http {
    async fn connect(base: &str) -> Http {
        let host = base.trim_start_matches("http://").trim_end_matches('/').to_string();
        let stream = TcpStream::connect(&host).await.expect("pgml-serve listens");
        stream.set_nodelay(true).unwrap();
        Http { stream, host, buffer: Vec::new() }
    }

    /// The status and body of a POST.
    async fn post(&mut self, path: &str, token: &str, body: &str) -> (u16, String) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.unwrap();
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).to_string();
                let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if self.buffer.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&self.buffer[end + 4..end + 4 + length]).to_string();
                    self.buffer.drain(..end + 4 + length);
                    return (status, body);
                }
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "pgml-serve closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

fn model_id(body: &str) -> Option<i64> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json.get("model_id")?.as_i64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (database_url, base, token, project, a, b, deploys, strict) = match &args[..] {
        [_, d, h, t, p, a, b, n] => (d, h, t, p, a, b, n, false),
        [_, d, h, t, p, a, b, n, s] if s == "strict" => (d, h, t, p, a, b, n, true),
        _ => {
            eprintln!("usage: freshness <database url> <http base url> <token> <project> <model a> <model b> <deploys> [strict]");
            std::process::exit(2);
        }
    };
    let models: [i64; 2] = [a.parse().unwrap(), b.parse().unwrap()];
    let deploys: usize = deploys.parse().unwrap();
    let (db, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let mut http = Http::connect(base).await;
    let path = format!("/v1/projects/{project}/predict");
    let body = match strict {
        true => r#"{"features": [5.9, 3.0, 5.1, 1.8], "strict": true}"#,
        false => r#"{"features": [5.9, 3.0, 5.1, 1.8]}"#,
    };
    let mut waits = Vec::with_capacity(deploys);
    let mut stale = 0;
    for i in 0..deploys {
        let (new, old) = (models[(i + 1) % 2], models[i % 2]);
        db.execute("SELECT pgml.deploy($1::text, $2::bigint)", &[project, &new]).await.unwrap();
        let committed = Instant::now();
        loop {
            let (status, answer) = http.post(&path, token, body).await;
            assert_eq!(status, 200, "pgml-serve answered {status}: {answer}");
            match model_id(&answer) {
                Some(id) if id == new => break,
                Some(id) if id == old => stale += 1,
                other => panic!("model {other:?} answered, neither {new} nor {old}: {answer}"),
            }
            assert!(committed.elapsed() < Duration::from_secs(10), "model {new} never answered");
        }
        waits.push(committed.elapsed().as_secs_f64() * 1000.0);
    }
    waits.sort_by(f64::total_cmp);
    println!(
        "{deploys} {:.2} {:.2} {:.2} {stale}",
        percentile(&waits, 0.5),
        percentile(&waits, 0.99),
        waits[waits.len() - 1]
    );
}

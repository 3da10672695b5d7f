//! What the test files share: the test database (`scripts/test-serve.sh` creates it and passes
//! its URI in PGML_SERVE_TEST_DATABASE_URL), a SQL client, and one request through a router
//! without a socket.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio_postgres::{Client, NoTls};
use tower::ServiceExt;

pub fn database_url() -> String {
    std::env::var("PGML_SERVE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5499/pgml_serve_test".into())
}

pub async fn sql() -> Client {
    let (client, connection) =
        tokio_postgres::connect(&database_url(), NoTls).await.expect("the test database");
    tokio::spawn(connection);
    client
}

/// One request: the status, the content type, and the body as JSON (or as a JSON string
/// when it is not JSON).
pub async fn send(
    router: axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.map_or(Body::empty(), |b| Body::from(b.to_string()))).unwrap();
    let res = router.oneshot(req).await.unwrap();
    let status = res.status();
    let content_type =
        res.headers().get("content-type").map_or("", |v| v.to_str().unwrap_or_default()).to_string();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (
        status,
        content_type,
        if json.is_null() { Value::String(String::from_utf8_lossy(&bytes).into()) } else { json },
    )
}

/// A role (created when missing, roles being cluster-wide), a member of `member_of`.
pub async fn role(c: &Client, name: &str, member_of: &[&str]) {
    let grants: String = member_of.iter().map(|r| format!("GRANT {r} TO {name};")).collect();
    c.batch_execute(&format!(
        "SET client_min_messages = warning;
         DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name}; END IF;
         END $$;
         {grants}"
    ))
    .await
    .unwrap_or_else(|e| panic!("role {name}: {e:?}"));
}

/// One request with headers and a raw body: the status, the response's headers and its body.
pub async fn raw(
    router: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, String)>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = match body {
        Some((content_type, b)) => req.header("content-type", content_type).body(Body::from(b)).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let res = router.oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&bytes).into())
}

//! The router without a socket (`app().oneshot`), against the project-local cluster:
//! `scripts/test-serve.sh` creates a fresh database and passes its URI in
//! PGML_SERVE_TEST_DATABASE_URL. Every answer is checked against what SQL says.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{database_url, role, send, sql};
use http_body_util::BodyExt;
use pgml_serve::{app, auth::admin, db::Db, AppState};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::OnceCell;
use tower::ServiceExt;

struct Fixture {
    predictor: String,
    deployer: String,
}

static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();

/// Two models of `serve_iris` (1 linear, deployed; 2 XGBoost, not deployed), a predictor's and
/// a deployer's token.
async fn fixture() -> &'static Fixture {
    FIXTURE
        .get_or_init(|| async {
            let c = sql().await;
            role(&c, "serve_test_predictor", &["pgml_predictor"]).await;
            role(&c, "serve_test_deployer", &["pgml_deployer"]).await;
            c.batch_execute(
                "SET client_min_messages = warning;
                 DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pgml.projects WHERE name = 'serve_iris') THEN
                     PERFORM pgml.load_dataset('iris');
                     PERFORM pgml.train('serve_iris', 'classification', 'pgml.iris', 'target');
                     PERFORM pgml.train('serve_iris', algorithm => 'xgboost', automatic_deploy => false);
                   END IF;
                 END $$;",
            )
            .await
            .expect("fixture SQL");
            let url = database_url();
            let suffix = std::process::id();
            Fixture {
                predictor: admin::create(&url, &format!("p{suffix}"), "serve_test_predictor").await.unwrap(),
                deployer: admin::create(&url, &format!("d{suffix}"), "serve_test_deployer").await.unwrap(),
            }
        })
        .await
}

fn router() -> axum::Router {
    app(AppState::new(Db::new(&database_url(), 2, Duration::from_secs(5)).unwrap()))
}

async fn call(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    send(router(), method, uri, token, body).await
}

async fn sql_prediction(features: &str) -> f32 {
    let c = sql().await;
    let q = format!("SELECT pgml.predict('serve_iris', ARRAY[{features}]::real[])");
    c.query_one(&q, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn predictions_match_sql_for_every_shape_of_features() {
    let f = fixture().await;
    let uri = "/v1/projects/serve_iris/predict";
    let (status, _, body) =
        call("POST", uri, Some(&f.predictor), Some(r#"{"features": [6.3, 3.3, 6.0, 2.5]}"#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_id"], 1);
    assert_eq!(body["stage"], "production");
    assert_eq!(body["predictions"][0].as_f64().unwrap() as f32, sql_prediction("6.3, 3.3, 6.0, 2.5").await);

    let batch = r#"{"features": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 4.2, 1.5]]}"#;
    let (_, _, body) = call("POST", uri, Some(&f.predictor), Some(batch)).await;
    let got: Vec<f32> =
        body["predictions"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let want = [
        sql_prediction("5.1, 3.5, 1.4, 0.2").await,
        sql_prediction("6.3, 3.3, 6.0, 2.5").await,
        sql_prediction("5.9, 3.0, 4.2, 1.5").await,
    ];
    assert_eq!(got, want);

    // by name, in any order: the same answer
    let named = r#"{"features": [{"petal_width": 2.5, "petal_length": 6.0, "sepal_width": 3.3, "sepal_length": 6.3},
                                 {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}"#;
    let (status, _, body) = call("POST", uri, Some(&f.predictor), Some(named)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["predictions"], json!([want[1], want[0]]));

    let (status, _, body) = call(
        "POST",
        "/v1/projects/serve_iris/predict_proba",
        Some(&f.predictor),
        Some(r#"{"features": [6.3, 3.3, 6.0, 2.5]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let p: Vec<f64> =
        body["probabilities"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(p.len(), 3);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{p:?}");
}

/// method, URI, token, body, expected status, expected error code
type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, StatusCode, &'a str);

#[tokio::test]
async fn mistakes_are_4xx_with_a_json_error() {
    let f = fixture().await;
    let t = Some(f.predictor.as_str());
    let uri = "/v1/projects/serve_iris/predict";
    let cases: Vec<Case> = vec![
        ("POST", uri, None, Some(r#"{"features": [1, 2, 3, 4]}"#), StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            "POST",
            uri,
            Some("pgml_not_a_token"),
            Some(r#"{"features": [1, 2, 3, 4]}"#),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        ("POST", uri, t, Some(r#"{"features": [1, 2]}"#), StatusCode::BAD_REQUEST, "22000"),
        (
            "POST",
            uri,
            t,
            Some(r#"{"features": [[1, 2, 3, 4], [1, 2, 3]]}"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("POST", uri, t, Some(r#"{"features": {"sepal_length": 1}}"#), StatusCode::BAD_REQUEST, "22000"),
        (
            "POST",
            uri,
            t,
            Some(r#"{"features": [1, 2, 3, 4], "stage": "staging"}"#),
            StatusCode::NOT_FOUND,
            "42704",
        ),
        ("POST", uri, t, Some(r#"{"features": [1, 2,"#), StatusCode::BAD_REQUEST, "bad_request"),
        ("POST", uri, t, Some(r#"{"feature": [1, 2, 3, 4]}"#), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "POST",
            "/v1/projects/nope/predict",
            t,
            Some(r#"{"features": [1, 2, 3, 4]}"#),
            StatusCode::NOT_FOUND,
            "42704",
        ),
        ("GET", "/v1/projects/nope", t, None, StatusCode::NOT_FOUND, "not_found"),
        (
            "POST",
            "/v1/projects/serve_iris/deploy",
            t,
            Some(r#"{"model_id": 2}"#),
            StatusCode::FORBIDDEN,
            "42501",
        ),
        ("POST", "/v1/promotion_requests/abc/approve", t, Some("{}"), StatusCode::BAD_REQUEST, "bad_request"),
        ("GET", "/v1/nothing-here", t, None, StatusCode::NOT_FOUND, "not_found"),
        ("DELETE", "/v1/projects", t, None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ];
    for (method, uri, token, body, status, code) in cases {
        let (got, content_type, json) = call(method, uri, token, body).await;
        assert_eq!(
            (got, json["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {uri} {body:?}: {json}"
        );
        assert_eq!(content_type, "application/json", "{method} {uri}");
        assert!(!json["error"]["message"].as_str().unwrap_or_default().is_empty());
    }
    // not JSON, and too large
    let req = Request::post(uri)
        .header("authorization", format!("Bearer {}", f.predictor))
        .body(Body::from("x"))
        .unwrap();
    let res = router().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!(r#"{{"features": [{}1]}}"#, "1, ".repeat(600_000));
    let (status, _, json) = call("POST", uri, t, Some(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
}

#[tokio::test]
async fn a_deploy_is_served_by_the_next_request_at_the_same_url() {
    let f = fixture().await;
    let predict = || {
        call(
            "POST",
            "/v1/projects/serve_iris/predict",
            Some(&f.predictor),
            Some(r#"{"features": [5.9, 3.0, 4.2, 1.5]}"#),
        )
    };
    let deploy =
        |body: &'static str| call("POST", "/v1/projects/serve_iris/deploy", Some(&f.deployer), Some(body));
    // the other tests predict concurrently and expect model 1: use a stage of its own
    let c = sql().await;
    c.batch_execute("SET client_min_messages = warning; SELECT pgml.add_stage('serve_iris', 'canary')")
        .await
        .unwrap();
    let (status, _, body) = deploy(r#"{"model_id": 2, "stage": "canary"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["model_id"].as_i64(), body["strategy"].as_str()), (Some(2), Some("specific")));
    let canary = || {
        call(
            "POST",
            "/v1/projects/serve_iris/predict",
            Some(&f.predictor),
            Some(r#"{"features": [5.9, 3.0, 4.2, 1.5], "stage": "canary"}"#),
        )
    };
    assert_eq!(canary().await.2["model_id"], 2);
    let (_, _, body) = deploy(r#"{"model_id": 1, "stage": "canary"}"#).await;
    assert_eq!(body["model_id"], 1);
    assert_eq!(canary().await.2["model_id"], 1);
    let (status, _, body) =
        call("POST", "/v1/projects/serve_iris/rollback", Some(&f.deployer), Some(r#"{"stage": "canary"}"#))
            .await;
    assert_eq!((status, body["model_id"].as_i64()), (StatusCode::OK, Some(2)), "{body}");
    assert_eq!(canary().await.2["model_id"], 2);
    assert_eq!(predict().await.2["model_id"], 1);
    // and the registry shows it
    let (_, _, body) = call("GET", "/v1/projects/serve_iris/deployments", Some(&f.predictor), None).await;
    let canary: Vec<&Value> = body.as_array().unwrap().iter().filter(|d| d["stage"] == "canary").collect();
    let last = &canary[canary.len() - 3..];
    assert_eq!(last.iter().map(|d| d["model_id"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1, 2]);
    assert_eq!(last[2]["strategy"], "rollback");
    assert!(last[2]["served_until"].is_null() && last[1]["served_until"].is_string());
}

#[tokio::test]
async fn registry_and_operations() {
    let f = fixture().await;
    let (status, _, body) = call("GET", "/v1/projects", Some(&f.predictor), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "serve_iris" && p["task"] == "classification"));
    let (_, _, body) = call("GET", "/v1/projects/serve_iris", Some(&f.predictor), None).await;
    let production = body["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "production").unwrap();
    assert_eq!(production["model_id"], 1);
    assert_eq!(production["schema"][0]["name"], "sepal_length");
    assert!(production["metrics"]["f1"].as_f64().unwrap() > 0.8);
    let (_, _, body) = call("GET", "/v1/projects/serve_iris/models", Some(&f.predictor), None).await;
    assert_eq!(
        body.as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        [2, 1]
    );

    assert_eq!(call("GET", "/healthz", None, None).await.2["status"], "ok");
    assert_eq!(call("GET", "/readyz", None, None).await.2["status"], "ok");
    let (_, _, doc) = call("GET", "/openapi.json", None, None).await;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/projects/{project}/predict",
        "/v1/projects/{project}/deploy",
        "/v1/promotion_requests/{id}/approve",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/v1/projects/{project}/predict"]["post"]["responses"]["401"].is_object());
    let (status, content_type, text) = call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    assert!(text.as_str().unwrap().contains("# TYPE pgml_http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn an_unreachable_database_is_503_not_500() {
    let state =
        AppState::new(Db::new("postgresql://postgres@127.0.0.1:1/none", 1, Duration::from_secs(2)).unwrap());
    let res = app(state).oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// Predictions go to the replicas; an unreachable one is left out and the next asked, the
/// primary last. (scripts/test-replica.sh runs pgml-serve with a real streaming standby.)
#[tokio::test]
async fn predictions_fall_back_past_an_unreachable_replica_to_the_primary() {
    let f = fixture().await;
    let db = Db::new(&database_url(), 1, Duration::from_secs(5))
        .unwrap()
        .with_replicas(&["postgresql://postgres@127.0.0.1:1/none".to_string()])
        .unwrap();
    assert_eq!(db.replicas(), 1);
    let router = app(AppState::new(db));
    for _ in 0..2 {
        let req = Request::post("/v1/projects/serve_iris/predict")
            .header("authorization", format!("Bearer {}", f.predictor))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"features": [6.3, 3.3, 6.0, 2.5]}"#))
            .unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(
            body["predictions"][0].as_f64().unwrap() as f32,
            sql_prediction("6.3, 3.3, 6.0, 2.5").await
        );
    }
}

/// PostgREST-style RPC over functions of the `public` schema, run as the token's role.
#[tokio::test]
async fn rpc_calls_exposed_functions_in_postgrest_shapes() {
    let f = fixture().await;
    sql()
        .await
        .batch_execute(
            "SET client_min_messages = warning;
             CREATE OR REPLACE FUNCTION public.rpc_add(a integer, b integer DEFAULT 10) RETURNS integer
               IMMUTABLE LANGUAGE sql AS 'SELECT a + b';
             CREATE OR REPLACE FUNCTION public.rpc_squares(n integer) RETURNS TABLE(i integer, square float8)
               STABLE LANGUAGE sql AS 'SELECT i, (i * i)::float8 FROM generate_series(1, least(n, 100)) i';
             CREATE OR REPLACE FUNCTION public.rpc_flag(x real) RETURNS TABLE(flag real)
               IMMUTABLE LANGUAGE sql AS 'SELECT x';
             CREATE OR REPLACE FUNCTION public.rpc_words(t text) RETURNS SETOF text
               IMMUTABLE LANGUAGE sql AS 'SELECT regexp_split_to_table(t, '' '')';
             CREATE OR REPLACE FUNCTION public.rpc_note(t text) RETURNS void LANGUAGE sql AS 'SELECT NULL';
             CREATE OR REPLACE FUNCTION public.rpc_secret() RETURNS text LANGUAGE sql AS 'SELECT ''hidden''';
             REVOKE EXECUTE ON FUNCTION public.rpc_secret() FROM PUBLIC;",
        )
        .await
        .unwrap();
    let state = AppState::new(Db::new(&database_url(), 2, Duration::from_secs(5)).unwrap())
        .with_rpc_schemas(vec!["public".into()]);
    state.rpc.reload(&state.db).await.unwrap();
    let router = app(state);
    let send = |method: &'static str, uri: String, body: Option<&'static str>| {
        let router = router.clone();
        let token = f.predictor.clone();
        async move {
            let mut req =
                Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let res =
                router.oneshot(req.body(body.map_or(Body::empty(), Body::from)).unwrap()).await.unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    // a scalar: the bare value; a default left out; GET for an IMMUTABLE function
    assert_eq!(
        send("POST", "/rpc/rpc_add".into(), Some(r#"{"a": 2, "b": 3}"#)).await,
        (StatusCode::OK, json!(5))
    );
    assert_eq!(send("POST", "/rpc/rpc_add".into(), Some(r#"{"a": 2}"#)).await, (StatusCode::OK, json!(12)));
    assert_eq!(send("GET", "/rpc/rpc_add?a=4&b=5".into(), None).await, (StatusCode::OK, json!(9)));
    // a table function: row objects; SETOF a scalar: values
    assert_eq!(
        send("POST", "/rpc/rpc_squares".into(), Some(r#"{"n": 2}"#)).await,
        (StatusCode::OK, json!([{"i": 1, "square": 1}, {"i": 2, "square": 4}]))
    );
    assert_eq!(send("GET", "/rpc/rpc_words?t=a%20b".into(), None).await, (StatusCode::OK, json!(["a", "b"])));
    // one TABLE column is still a row object (predict_clickbait's shape)
    assert_eq!(
        send("POST", "/rpc/rpc_flag".into(), Some(r#"{"x": 1}"#)).await,
        (StatusCode::OK, json!([{"flag": 1}]))
    );
    assert_eq!(
        send("POST", "/rpc/rpc_note".into(), Some(r#"{"t": "x"}"#)).await,
        (StatusCode::OK, Value::Null)
    );
    // the database's own functions are not exposed: pgml is not in --rpc-schemas
    let (status, body) = send("POST", "/rpc/predict".into(), Some("{}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // wrong arguments: 400 naming them; a wrong type: the database's message
    let (status, body) = send("POST", "/rpc/rpc_add".into(), Some(r#"{"x": 1}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("takes no arguments named {x}"), "{body}");
    assert!(body["error"]["hint"].as_str().unwrap().contains("rpc_add(a integer, b? integer)"), "{body}");
    let (status, body) = send("POST", "/rpc/rpc_add".into(), Some(r#"{"a": "two"}"#)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("22P02")), "{body}");
    let (status, _) = send("POST", "/rpc/rpc_add".into(), Some("[1]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // VOLATILE needs POST; EXECUTE is the database's decision
    assert_eq!(send("GET", "/rpc/rpc_note?t=x".into(), None).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = send("POST", "/rpc/rpc_secret".into(), Some("{}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("42501")), "{body}");
}

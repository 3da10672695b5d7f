//! Predictions in pgml-serve's own process, against the project-local cluster (see
//! `tests/common`): they equal the database's, bit for bit, for every algorithm family and for
//! preprocessing; they follow deploys, also under a storm of them, and never serve a deploy
//! that rolled back; a lost listener reloads everything; a REVOKE or a revoked token stops a
//! caller within the cache's bound; idle models are evicted and shown in /metrics.

mod common;

use axum::http::StatusCode;
use common::{database_url, role, send, sql};
use pgml_serve::{app, auth, db::Db, models, AppState};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// (project, training call): one project per algorithm family, and two with preprocessing.
const PROJECTS: &[(&str, &str)] = &[
    ("inproc_linear", "'classification', 'pgml.iris', 'target'"),
    ("inproc_svm", "'classification', 'pgml.iris', 'target', algorithm => 'svm'"),
    ("inproc_forest", "'classification', 'pgml.iris', 'target', algorithm => 'random_forest'"),
    ("inproc_gbt", "'classification', 'pgml.iris', 'target', algorithm => 'gradient_boosting_trees'"),
    ("inproc_xgboost", "'classification', 'pgml.iris', 'target', algorithm => 'xgboost'"),
    ("inproc_lightgbm", "'classification', 'pgml.iris', 'target', algorithm => 'lightgbm'"),
    ("inproc_ada", "'classification', 'pgml.iris', 'target', algorithm => 'ada_boost'"),
    ("inproc_kmeans", "'clustering', 'inproc_iris_features', NULL, algorithm => 'kmeans'"),
    ("inproc_ridge", "'regression', 'pgml.diabetes', 'target', algorithm => 'ridge'"),
    ("inproc_kernel", "'regression', 'pgml.diabetes', 'target', algorithm => 'kernel_ridge'"),
    ("inproc_xgb_reg", "'regression', 'pgml.diabetes', 'target', algorithm => 'xgboost'"),
    ("inproc_lgbm_reg", "'regression', 'pgml.diabetes', 'target', algorithm => 'lightgbm'"),
    (
        "inproc_scaled",
        "'regression', 'pgml.diabetes', 'target', preprocess => '{\"age\": {\"scale\": \"standard\"}, \"bmi\": {\"scale\": \"robust\"}, \"bp\": {\"scale\": \"min_max\"}}'",
    ),
    (
        "inproc_scaled_svm",
        "'classification', 'pgml.iris', 'target', algorithm => 'svm', preprocess => '{\"sepal_length\": {\"scale\": \"max_abs\", \"impute\": \"mean\"}, \"petal_width\": {\"scale\": \"standard\"}}'",
    ),
    ("inproc_pca", "'decomposition', 'inproc_iris_features', NULL, algorithm => 'pca'"),
];

struct Fixture {
    predictor: String,
}

static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();

async fn fixture() -> &'static Fixture {
    FIXTURE
        .get_or_init(|| async {
            let c = sql().await;
            role(&c, "inproc_predictor", &["pgml_predictor"]).await;
            c.batch_execute(
                "SET client_min_messages = warning;
                 DO $$ BEGIN
                   IF to_regclass('pgml.iris') IS NULL THEN PERFORM pgml.load_dataset('iris'); END IF;
                   IF to_regclass('pgml.diabetes') IS NULL THEN PERFORM pgml.load_dataset('diabetes'); END IF;
                 END $$;
                 CREATE TABLE IF NOT EXISTS inproc_iris_features AS
                   SELECT sepal_length, sepal_width, petal_length, petal_width FROM pgml.iris;",
            )
            .await
            .expect("fixture SQL");
            for (project, args) in PROJECTS {
                let exists =
                    c.query_opt("SELECT FROM pgml.projects WHERE name = $1", &[project]).await.unwrap();
                if exists.is_none() {
                    c.batch_execute(&format!("SELECT pgml.train('{project}', {args})"))
                        .await
                        .unwrap_or_else(|e| panic!("training {project}: {e:?}"));
                }
            }
            let name = format!("inproc{}", std::process::id());
            Fixture {
                predictor: auth::admin::create(&database_url(), &name, "inproc_predictor").await.unwrap(),
            }
        })
        .await
}

/// A server's state that predicts in process, once its follower listens.
async fn following(idle: Duration, budget: usize) -> AppState {
    let db = Db::new(&database_url(), 2, Duration::from_secs(5)).unwrap();
    let state = AppState::new(db).with_models(idle, budget);
    tokio::spawn(models::follow(database_url().parse().unwrap(), state.models.clone()));
    let started = Instant::now();
    while !state.models.following() {
        assert!(started.elapsed() < Duration::from_secs(10), "the follower never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state
}

/// A prediction request's status and body, without its request ids (new for every request):
/// those are checked here, one per instance, each a UUIDv7.
async fn post(state: &AppState, uri: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let (status, _, mut json) =
        send(app(state.clone()), "POST", uri, Some(token), Some(&body.to_string())).await;
    if status == StatusCode::OK {
        let ids = json.as_object_mut().and_then(|o| o.remove("request_ids"));
        let ids =
            ids.as_ref().and_then(Value::as_array).unwrap_or_else(|| panic!("no request_ids in {json}"));
        let answers = json.get("predictions").or_else(|| json.get("probabilities")).and_then(Value::as_array);
        assert_eq!(Some(ids.len()), answers.map(Vec::len), "one request id per instance");
        assert!(
            ids.iter().all(|id| id.as_str().is_some_and(|t| t.len() == 36 && &t[14..15] == "7")),
            "{ids:?}"
        );
    }
    (status, json)
}

/// The features of a relation's rows (every column but `target`) with pgml.predict's answer
/// for each, and pgml.predict_proba's answers or its refusal (SQLSTATE, message).
async fn sql_answers(
    project: &str,
    relation: &str,
    columns: &str,
) -> (Vec<Vec<f32>>, Vec<f32>, Result<Vec<Vec<f32>>, (String, String)>) {
    let c = sql().await;
    let rows = c
        .query(
            &format!(
                "SELECT ARRAY[{columns}]::real[], pgml.predict('{project}', ARRAY[{columns}]::real[])
                 FROM {relation} ORDER BY {columns}"
            ),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{project}: {e:?}"));
    let proba = c
        .query(
            &format!("SELECT pgml.predict_proba('{project}', ARRAY[{columns}]::real[]) FROM {relation} ORDER BY {columns}"),
            &[],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .map_err(|e| {
            let e = e.as_db_error().unwrap();
            (e.code().code().to_string(), e.message().to_string())
        });
    (rows.iter().map(|r| r.get(0)).collect(), rows.iter().map(|r| r.get(1)).collect(), proba)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN) as f32).collect()
}

#[tokio::test]
async fn in_process_answers_equal_the_database_for_every_algorithm_family_and_preprocessing() {
    let f = fixture().await;
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    let iris = "sepal_length, sepal_width, petal_length, petal_width";
    let diabetes = "age, sex, bmi, bp, s1, s2, s3, s4, s5, s6";
    for (project, args) in PROJECTS.iter() {
        let (relation, columns) =
            if args.contains("diabetes") { ("pgml.diabetes", diabetes) } else { ("pgml.iris", iris) };
        let (x, want, want_proba) = sql_answers(project, relation, columns).await;
        // a batch: in process and through the database, predictions and probabilities
        for route in ["predict", "predict_proba"] {
            let uri = format!("/v1/projects/{project}/{route}");
            let (status, in_process) = post(&state, &uri, &f.predictor, &json!({"features": x})).await;
            let (strict_status, strict) =
                post(&state, &uri, &f.predictor, &json!({"features": x, "strict": true})).await;
            assert_eq!(
                (status, &in_process),
                (strict_status, &strict),
                "{project} {route}: in process differs from strict"
            );
        }
        // row by row, as SQL predicts (a few rows walk a booster's trees natively, a batch asks
        // the library: they may differ in the last bit of a probability, both here and in SQL)
        for (i, row) in x.iter().enumerate() {
            let body = json!({"features": row});
            let (status, answer) =
                post(&state, &format!("/v1/projects/{project}/predict"), &f.predictor, &body).await;
            assert_eq!(status, StatusCode::OK, "{project}: {answer}");
            assert_eq!(
                floats(&answer["predictions"]),
                [want[i]],
                "{project} row {i}: in process differs from pgml.predict"
            );
            let (status, answer) =
                post(&state, &format!("/v1/projects/{project}/predict_proba"), &f.predictor, &body).await;
            match &want_proba {
                Ok(want) => {
                    assert_eq!(status, StatusCode::OK, "{project}: {answer}");
                    assert_eq!(
                        floats(&answer["probabilities"][0]),
                        want[i],
                        "{project} row {i}: probabilities differ from pgml.predict_proba"
                    );
                }
                Err((code, message)) => {
                    let error = &answer["error"];
                    assert_eq!(
                        (error["code"].as_str(), error["message"].as_str()),
                        (Some(code.as_str()), Some(message.as_str())),
                        "{project}"
                    );
                }
            }
        }
    }
    // by name, as the database orders them
    let named = json!({"features": {"petal_width": 2.5, "petal_length": 6.0, "sepal_width": 3.3, "sepal_length": 6.3}});
    let (_, a) = post(&state, "/v1/projects/inproc_scaled_svm/predict", &f.predictor, &named).await;
    let (_, b) = post(
        &state,
        "/v1/projects/inproc_scaled_svm/predict",
        &f.predictor,
        &json!({"features": [6.3, 3.3, 6.0, 2.5]}),
    )
    .await;
    assert_eq!(a, b);
    // the same refusals, word for word
    for (project, body) in [
        ("inproc_ridge", json!({"features": [1, 2, 3]})),
        ("inproc_linear", json!({"features": {"sepal_length": 1, "petal": 2}})),
    ] {
        let uri = format!("/v1/projects/{project}/predict");
        let (status, in_process) = post(&state, &uri, &f.predictor, &body).await;
        let mut strict_body = body.clone();
        strict_body["strict"] = json!(true);
        let (strict_status, strict) = post(&state, &uri, &f.predictor, &strict_body).await;
        assert_eq!((status, &in_process), (strict_status, &strict), "{project}");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{project}: {in_process}");
    }
    let (_, ridge) = post(
        &state,
        "/v1/projects/inproc_ridge/predict_proba",
        &f.predictor,
        &json!({"features": vec![0.0; 10]}),
    )
    .await;
    assert_eq!(ridge["error"]["code"], "0A000", "{ridge}");
    // they were answered in process: the models are held
    let (_, _, metrics) = send(app(state.clone()), "GET", "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap();
    for (project, _) in PROJECTS.iter() {
        assert!(
            metrics.contains(&format!("pgml_serve_stage_model{{project=\"{project}\",stage=\"production\"")),
            "{project} not held"
        );
    }
    assert!(metrics.contains("pgml_serve_following 1"));
}

/// Asks until `model` answers (every answer must be a 200), for at most 10 s; how long it took.
async fn until_served(state: &AppState, uri: &str, token: &str, body: &Value, model: i64) -> Duration {
    let started = Instant::now();
    loop {
        let (status, answer) = post(state, uri, token, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        if answer["model_id"] == model {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "model {model} was never served: {answer}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The ids and predictions of a project's models, by id, for these rows.
async fn by_model(ids: &[i64], x: &[Vec<f32>]) -> Vec<(i64, Vec<f32>)> {
    let c = sql().await;
    let mut out = Vec::new();
    for &id in ids {
        let mut p = Vec::new();
        for row in x {
            p.push(
                c.query_one("SELECT pgml.predict($1::bigint, $2::real[])", &[&id, row]).await.unwrap().get(0),
            );
        }
        out.push((id, p));
    }
    out
}

/// Trains a project of three models (the first deployed) and returns their ids.
async fn three_models(project: &str) -> [i64; 3] {
    let c = sql().await;
    c.batch_execute(&format!(
        "SET client_min_messages = warning;
         SELECT pgml.train('{project}', 'classification', 'pgml.iris', 'target', hyperparams => '{{\"C\": 0.01}}');
         SELECT pgml.train('{project}', algorithm => 'xgboost', automatic_deploy => false);
         SELECT pgml.train('{project}', algorithm => 'random_forest', automatic_deploy => false);"
    ))
    .await
    .unwrap();
    let rows = c
        .query("SELECT m.id FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = $1 ORDER BY m.id", &[&project])
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    [ids[0], ids[1], ids[2]]
}

#[tokio::test]
async fn a_deploy_storm_fails_no_request_and_never_serves_a_rolled_back_deploy() {
    let f = fixture().await;
    let project = &format!("inproc_storm_{}", std::process::id());
    let [a, b, never] = three_models(project).await;
    let x: Vec<Vec<f32>> = vec![
        vec![5.1, 3.5, 1.4, 0.2],
        vec![6.3, 3.3, 6.0, 2.5],
        vec![5.9, 3.0, 4.2, 1.5],
        vec![6.0, 2.2, 5.0, 1.5],
    ];
    let expected = Arc::new(by_model(&[a, b], &x).await);
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    let uri = format!("/v1/projects/{project}/predict");
    let body = json!({"features": x});
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (state, uri, body, token) = (state.clone(), uri.clone(), body.clone(), f.predictor.clone());
        let (stop, answered, expected) = (stop.clone(), answered.clone(), expected.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, answer) = post(&state, &uri, &token, &body).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                let id = answer["model_id"].as_i64().unwrap();
                let (_, want) = expected
                    .iter()
                    .find(|(m, _)| *m == id)
                    .unwrap_or_else(|| panic!("model {id} answered; only {a} and {b} were ever committed"));
                assert_eq!(
                    &floats(&answer["predictions"]),
                    want,
                    "model {id} answered with another model's predictions"
                );
                answered.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }
    let c = sql().await;
    let mut waits = Vec::new();
    for i in 0..60 {
        let target = if i % 2 == 0 { b } else { a };
        // a deploy that rolls back: never served
        c.batch_execute(&format!("BEGIN; SELECT pgml.deploy('{project}', {never}::bigint); ROLLBACK;"))
            .await
            .unwrap();
        c.execute("SELECT pgml.deploy($1::text, $2::bigint)", &[project, &target]).await.unwrap();
        waits.push(until_served(&state, &uri, &f.predictor, &body, target).await);
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("a client saw a failure");
    }
    waits.sort();
    eprintln!(
        "deploy storm: {} answers, commit -> served p50 {:?}, max {:?}",
        answered.load(Ordering::Relaxed),
        waits[waits.len() / 2],
        waits[waits.len() - 1]
    );
    assert!(answered.load(Ordering::Relaxed) > 60);
}

#[tokio::test]
async fn a_lost_listener_reloads_everything_when_it_reconnects() {
    let f = fixture().await;
    let project = &format!("inproc_reconnect_{}", std::process::id());
    let [a, b, _] = three_models(project).await;
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    let uri = format!("/v1/projects/{project}/predict");
    let body = json!({"features": [5.1, 3.5, 1.4, 0.2]});
    assert_eq!(post(&state, &uri, &f.predictor, &body).await.1["model_id"], a);
    let c = sql().await;
    // every listener of this database goes (the other tests' too: they must cope as well)
    c.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query = 'LISTEN pgml_deployments' AND datname = current_database()",
    )
    .await
    .unwrap();
    // deployed while nobody listens: the notification is lost
    c.execute("SELECT pgml.deploy($1::text, $2::bigint)", &[project, &b]).await.unwrap();
    until_served(&state, &uri, &f.predictor, &body, b).await;
    let started = Instant::now();
    while !state.models.following() {
        assert!(started.elapsed() < Duration::from_secs(10), "the follower did not reconnect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(post(&state, &uri, &f.predictor, &body).await.1["model_id"], b);
}

#[tokio::test]
async fn a_revoke_or_a_revoked_token_stops_a_caller_within_the_bound() {
    fixture().await;
    let c = sql().await;
    role(&c, "inproc_revokee", &["pgml_predictor"]).await;
    let name = format!("revokee{}", std::process::id());
    let token = auth::admin::create(&database_url(), &name, "inproc_revokee").await.unwrap();
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    let uri = "/v1/projects/inproc_linear/predict";
    let body = json!({"features": [5.1, 3.5, 1.4, 0.2]});
    assert_eq!(post(&state, uri, &token, &body).await.0, StatusCode::OK);
    c.batch_execute("REVOKE pgml_predictor FROM inproc_revokee").await.unwrap();
    let revoked = Instant::now();
    // within the bound the cached grant may still answer; after it, the database refuses
    let mut answered_after_revoke = 0;
    while revoked.elapsed() < auth::CACHE_TTL + Duration::from_millis(100) {
        if post(&state, uri, &token, &body).await.0 == StatusCode::OK {
            answered_after_revoke += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, refused) = post(&state, uri, &token, &body).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("42501")),
        "{refused}"
    );
    eprintln!("after REVOKE: {answered_after_revoke} answers within {:?}, then 403", auth::CACHE_TTL);
    // granted again: back within the bound; then the token itself is revoked
    c.batch_execute("GRANT pgml_predictor TO inproc_revokee").await.unwrap();
    tokio::time::sleep(auth::CACHE_TTL + Duration::from_millis(100)).await;
    assert_eq!(post(&state, uri, &token, &body).await.0, StatusCode::OK);
    assert!(auth::admin::revoke(&database_url(), &name).await.unwrap());
    tokio::time::sleep(auth::CACHE_TTL + Duration::from_millis(100)).await;
    let (status, refused) = post(&state, uri, &token, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
}

#[tokio::test]
async fn idle_models_are_evicted_and_metrics_show_the_models_held() {
    let f = fixture().await;
    let held = |text: &str| -> (usize, usize) {
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse().ok())
                .unwrap()
        };
        (value("pgml_serve_models_held"), value("pgml_serve_model_bytes"))
    };
    let metrics = |state: AppState| async move {
        let (_, _, text) = send(app(state), "GET", "/metrics", None, None).await;
        text.as_str().unwrap().to_string()
    };
    let c = sql().await;
    let sizes: Vec<i64> = c
        .query(
            "SELECT sum(octet_length(f.data))::bigint FROM pgml.files f JOIN pgml.stage_deployments d ON d.model_id = f.model_id
             JOIN pgml.projects p ON p.id = d.project_id
             WHERE p.name IN ('inproc_linear', 'inproc_xgboost') AND d.stage = 'production' AND f.path = 'model'
             GROUP BY p.name ORDER BY p.name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let body = json!({"features": [5.1, 3.5, 1.4, 0.2]});
    // idle after an hour: both stay
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    post(&state, "/v1/projects/inproc_linear/predict", &f.predictor, &body).await;
    post(&state, "/v1/projects/inproc_xgboost/predict", &f.predictor, &body).await;
    state.models.evict();
    assert_eq!(held(&metrics(state.clone()).await), (2, (sizes[0] + sizes[1]) as usize));
    // a budget below both: the least recently used (linear) goes, xgboost stays
    let state = following(Duration::from_secs(3600), sizes[1] as usize).await;
    post(&state, "/v1/projects/inproc_linear/predict", &f.predictor, &body).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    post(&state, "/v1/projects/inproc_xgboost/predict", &f.predictor, &body).await;
    state.models.evict();
    let text = metrics(state.clone()).await;
    assert_eq!(held(&text), (1, sizes[1] as usize));
    assert!(text.contains("pgml_serve_stage_model{project=\"inproc_xgboost\""));
    assert!(text.contains("pgml_serve_model_evictions_total 1"));
    // idle at once: gone, and loaded again by the next request
    let state = following(Duration::ZERO, 1 << 30).await;
    let (status, first) = post(&state, "/v1/projects/inproc_linear/predict", &f.predictor, &body).await;
    state.models.evict();
    assert_eq!(held(&metrics(state.clone()).await), (0, 0));
    let (_, again) = post(&state, "/v1/projects/inproc_linear/predict", &f.predictor, &body).await;
    assert_eq!((status, &first), (StatusCode::OK, &again));
}

#[tokio::test]
async fn a_per_project_rule_of_the_database_applies_in_process() {
    fixture().await;
    let c = sql().await;
    role(&c, "inproc_rls", &["pgml_predictor"]).await;
    role(&c, "inproc_no_files", &[]).await;
    // row-level security on pgml.projects: inproc_rls may not see inproc_ridge (the other
    // roles see every project, and the extension's owner bypasses it)
    c.batch_execute(
        "SET client_min_messages = warning;
         DROP POLICY IF EXISTS inproc_rls_rule ON pgml.projects;
         CREATE POLICY inproc_rls_rule ON pgml.projects USING (current_user <> 'inproc_rls' OR name <> 'inproc_ridge');
         ALTER TABLE pgml.projects ENABLE ROW LEVEL SECURITY;
         GRANT USAGE ON SCHEMA pgml TO inproc_no_files;
         GRANT SELECT ON pgml.projects, pgml.stage_deployments, pgml.models TO inproc_no_files;
         GRANT EXECUTE ON FUNCTION pgml._pgml_serve_predict(text, text, real[], text[], boolean) TO inproc_no_files;",
    )
    .await
    .unwrap();
    let rls = auth::admin::create(&database_url(), &format!("rls{}", std::process::id()), "inproc_rls")
        .await
        .unwrap();
    let no_files =
        auth::admin::create(&database_url(), &format!("nofiles{}", std::process::id()), "inproc_no_files")
            .await
            .unwrap();
    let state = following(Duration::from_secs(3600), 1 << 30).await;
    let iris = json!({"features": [5.1, 3.5, 1.4, 0.2]});
    let diabetes = json!({"features": vec![0.01; 10]});
    assert_eq!(post(&state, "/v1/projects/inproc_linear/predict", &rls, &iris).await.0, StatusCode::OK);
    let (status, hidden) = post(&state, "/v1/projects/inproc_ridge/predict", &rls, &diabetes).await;
    assert_eq!(
        (status, hidden["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("42704")),
        "{hidden}"
    );
    // a role that may not read the models' bytes is refused as SQL refuses it
    let (status, refused) = post(&state, "/v1/projects/inproc_linear/predict", &no_files, &iris).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("42501")),
        "{refused}"
    );
    c.batch_execute(
        "ALTER TABLE pgml.projects DISABLE ROW LEVEL SECURITY; DROP POLICY inproc_rls_rule ON pgml.projects",
    )
    .await
    .unwrap();
}

//! The dashboard through the router (no socket, no browser; `scripts/test-ui.sh` runs a real
//! Chromium): signing in and out, every page for a signed-in role, every action run as the
//! role with the database's refusals shown, CSRF, and a revoked token ending its session.

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::{database_url, raw, role, sql};
use pgml_serve::{app, auth, db::Db, AppState};
use std::time::Duration;
use tokio::sync::OnceCell;

const PROJECT: &str = "UI Flowers";
const PAGE: &str = "/ui/projects/UI%20Flowers";
/// The same again, for the actions test to change (the page test reads the first meanwhile).
const ACTIONS: &str = "UI Actions";
const ACTIONS_PAGE: &str = "/ui/projects/UI%20Actions";

struct Fixture {
    admin: String,
    predictor: String,
}

static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();

/// Four models (linear in production, XGBoost in staging, a forest with preprocessing, an
/// XGBoost from a grid search), production needing one approval, and a promotion of staging
/// waiting for it.
async fn fixture() -> &'static Fixture {
    FIXTURE
        .get_or_init(|| async {
            let c = sql().await;
            role(&c, "ui_router_admin", &["pgml_admin"]).await;
            role(&c, "ui_router_predictor", &["pgml_predictor"]).await;
            for project in [PROJECT, ACTIONS] {
            c.batch_execute(&format!(
                "SET client_min_messages = warning;
                 DO $$ BEGIN
                   IF to_regclass('pgml.iris') IS NULL THEN PERFORM pgml.load_dataset('iris'); END IF;
                   IF NOT EXISTS (SELECT FROM pgml.projects WHERE name = '{project}') THEN
                     PERFORM pgml.train('{project}', 'classification', 'pgml.iris', 'target');
                     PERFORM pgml.train('{project}', algorithm => 'xgboost', hyperparams => '{{\"n_estimators\": 10}}', automatic_deploy => false);
                     PERFORM pgml.train('{project}', algorithm => 'random_forest', hyperparams => '{{\"n_estimators\": 10}}', automatic_deploy => false,
                                        preprocess => '{{\"sepal_length\": {{\"scale\": \"standard\"}}}}');
                     PERFORM pgml.train('{project}', algorithm => 'xgboost', search => 'grid', search_params => '{{\"max_depth\": [1, 2]}}',
                                        hyperparams => '{{\"n_estimators\": 5}}', automatic_deploy => false);
                     PERFORM pgml.deploy('{project}', (SELECT max(m.id) - 2 FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = '{project}'), 'staging');
                     PERFORM pgml.set_promotion_policy('{project}', approvals => 1);
                     PERFORM pgml.promote('{project}', 'staging', 'production');
                   END IF;
                 END $$;"
            ))
            .await
            .expect("fixture SQL");
            }
            let url = database_url();
            let pid = std::process::id();
            Fixture {
                admin: auth::admin::create(&url, &format!("uia{pid}"), "ui_router_admin").await.unwrap(),
                predictor: auth::admin::create(&url, &format!("uip{pid}"), "ui_router_predictor").await.unwrap(),
            }
        })
        .await
}

/// One router for a test: its sessions live as long as the router's state.
fn router() -> axum::Router {
    app(AppState::new(Db::new(&database_url(), 2, Duration::from_secs(5)).unwrap()))
}

fn set_cookies(h: &HeaderMap) -> Vec<String> {
    h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

fn cookie_value(h: &HeaderMap, name: &str) -> Option<String> {
    set_cookies(h).iter().find_map(|c| {
        c.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_string())
    })
}

fn location(h: &HeaderMap) -> &str {
    h.get("location").map_or("", |v| v.to_str().unwrap())
}

/// The hidden CSRF input's value in a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..at + 64].to_string()
}

/// A signed-in browser: its session cookie and the CSRF token of its forms.
struct Browser {
    router: axum::Router,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(router: &axum::Router, token: &str) -> Browser {
        let (status, h, page) = raw(router.clone(), "GET", "/ui/signin", &[], None).await;
        assert_eq!(status, StatusCode::OK);
        let form_csrf = csrf_of(&page);
        let pre = cookie_value(&h, "pgml_signin").unwrap();
        let body = format!("csrf={form_csrf}&token={token}");
        let (status, h, _) = raw(
            router.clone(),
            "POST",
            "/ui/signin",
            &[("cookie", format!("pgml_signin={pre}"))],
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await;
        assert_eq!((status, location(&h)), (StatusCode::SEE_OTHER, "/ui"));
        let cookie = format!("pgml_session={}", cookie_value(&h, "pgml_session").unwrap());
        let mut b = Browser { router: router.clone(), cookie, csrf: String::new() };
        let (_, _, page) = b.get("/ui").await;
        b.csrf = csrf_of(&page);
        b
    }

    async fn get(&self, uri: &str) -> (StatusCode, HeaderMap, String) {
        raw(self.router.clone(), "GET", uri, &[("cookie", self.cookie.clone())], None).await
    }

    /// Posts a form (the CSRF token added), follows the redirect, returns the page shown.
    async fn post(&self, uri: &str, fields: &str) -> (StatusCode, String) {
        let body = format!("csrf={}&{fields}", self.csrf);
        let (status, h, page) = raw(
            self.router.clone(),
            "POST",
            uri,
            &[("cookie", self.cookie.clone())],
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await;
        if status != StatusCode::SEE_OTHER {
            return (status, page);
        }
        let (status, _, page) = self.get(location(&h)).await;
        (status, page)
    }
}

/// The id of the (first) pending request whose review forms a page shows.
fn request_in(page: &str) -> i64 {
    let marker = "action=\"/ui/requests/";
    let at = page.find(marker).expect("a review form") + marker.len();
    page[at..at + page[at..].find('/').unwrap()].parse().unwrap()
}

/// The model a stage serves, from the stages table of a project page.
fn serves(page: &str, stage: &str) -> Option<i64> {
    let table = &page[page.find("id=\"stages-table\"")?..];
    let row = &table[table.find(&format!("<td>{stage}</td>"))?..];
    let link = &row[row.find("/ui/models/")? + 11..];
    link[..link.find('"')?].parse().ok()
}

#[tokio::test]
async fn signing_in_sets_a_strict_session_cookie_and_signing_out_ends_it() {
    let f = fixture().await;
    let r = router();
    let (status, h, _) = raw(r.clone(), "GET", "/ui", &[], None).await;
    assert_eq!((status, location(&h)), (StatusCode::SEE_OTHER, "/ui/signin"));
    let (status, h, page) = raw(r.clone(), "GET", "/ui/signin", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let pre = cookie_value(&h, "pgml_signin").unwrap();
    assert_eq!(pre, csrf_of(&page));
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let post = |csrf: String, token: String, proto: &'static str| {
        let r = r.clone();
        let pre = pre.clone();
        async move {
            raw(
                r,
                "POST",
                "/ui/signin",
                &[("cookie", format!("pgml_signin={pre}")), ("x-forwarded-proto", proto.to_string())],
                Some(("application/x-www-form-urlencoded", format!("csrf={csrf}&token={token}"))),
            )
            .await
        }
    };
    let (status, _, page) = post("0".repeat(64), f.admin.clone(), "http").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let (status, _, page) = post(pre.clone(), "pgml_not_a_token".into(), "http").await;
    assert!(
        status == StatusCode::UNAUTHORIZED && page.contains("Unknown or revoked token."),
        "{status} {page}"
    );
    let (status, h, _) = post(pre.clone(), f.admin.clone(), "http").await;
    assert_eq!((status, location(&h)), (StatusCode::SEE_OTHER, "/ui"));
    let session = set_cookies(&h).into_iter().find(|c| c.starts_with("pgml_session=")).unwrap();
    assert!(session.ends_with("; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=43200"), "{session}");
    let (_, h, _) = post(pre.clone(), f.admin.clone(), "https").await;
    let session = set_cookies(&h).into_iter().find(|c| c.starts_with("pgml_session=")).unwrap();
    assert!(session.ends_with("; Secure"), "over TLS the cookie is Secure: {session}");

    let b = Browser::sign_in(&r, &f.admin).await;
    let (status, _, page) = b.get("/ui").await;
    assert!(status == StatusCode::OK && page.contains(PROJECT) && page.contains("ui_router_admin"), "{page}");
    // sign out needs the form's token
    let (status, _, _) = raw(
        r.clone(),
        "POST",
        "/ui/signout",
        &[("cookie", b.cookie.clone())],
        Some(("application/x-www-form-urlencoded", "csrf=x".into())),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = b.post("/ui/signout", "").await;
    assert!(status == StatusCode::OK && page.contains("Sign in"), "{page}");
    let (status, h, _) = b.get("/ui").await;
    assert_eq!((status, location(&h)), (StatusCode::SEE_OTHER, "/ui/signin"));
}

#[tokio::test]
async fn every_page_shows_the_registry_to_a_signed_in_role() {
    let f = fixture().await;
    let b = Browser::sign_in(&router(), &f.admin).await;
    let (status, _, page) = b.get("/ui").await;
    assert_eq!(status, StatusCode::OK);
    for part in ["id=\"projects\"", PROJECT, "classification", "production: <a href=\"/ui/models/"] {
        assert!(page.contains(part), "projects page lacks {part}");
    }
    let (status, _, page) = b.get(PAGE).await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "<svg class=\"chart\"",
        "class=\"serving\"",
        "id=\"stages-table\"",
        "id=\"requests-table\"",
        "id=\"timeline-table\"",
        "id=\"models-table\"",
        "id=\"audit-table\"",
        "id=\"schedules\"",
        "1 approval(s)",
        "action=\"/ui/requests/",
    ] {
        assert!(page.contains(part), "project page lacks {part}");
    }
    let (status, _, page) = b.get("/ui/models/2").await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "xgboost",
        "id=\"hyperparams-table\"",
        "n_estimators",
        "id=\"metrics-table\"",
        "fit_time",
        "id=\"schema-table\"",
        "sepal_length",
        "id=\"drift\"",
        // why it predicts: the training's global explanation and XGBoost's importances
        "id=\"explanation\"",
        "Mean |attribution| over",
        "mean |attribution| per feature",
        "id=\"importance-table\"",
        "total_gain",
    ] {
        assert!(page.contains(part), "model page lacks {part}");
    }
    let (_, _, page) = b.get("/ui/models/3").await;
    assert!(page.contains("(v − ") && page.contains("as is"), "the forest's page shows its scaling: {page}");
    assert!(
        page.contains("No global explanation stored"),
        "the forest's page says it has no explanation: {page}"
    );
    let (_, _, page) = b.get("/ui/models/4").await;
    assert!(
        page.contains("id=\"search-table\"") && page.contains("max_depth"),
        "the search's page lists it: {page}"
    );
    let (status, _, _) = b.get("/ui/projects/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = b.get("/ui/models/987654").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, h, css) = b.get("/ui/style.css").await;
    assert!(
        status == StatusCode::OK
            && h.get("content-type").unwrap() == "text/css; charset=utf-8"
            && css.contains("@media")
    );
}

#[tokio::test]
async fn actions_run_as_the_role_and_the_database_refusals_are_shown() {
    let f = fixture().await;
    let r = router();
    let m: Vec<i64> = sql()
        .await
        .query("SELECT m.id FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE p.name = $1 ORDER BY m.id", &[&ACTIONS])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // a predictor sees no action, and the database refuses one sent anyway
    let p = Browser::sign_in(&r, &f.predictor).await;
    let (_, _, page) = p.get(ACTIONS_PAGE).await;
    for form in ["/deploy\"", "/rollback\"", "/promote\"", "/approve\"", "/archive\""] {
        assert!(!page.contains(form), "a predictor sees the {form} form");
    }
    let (status, page) = p
        .post(&format!("{ACTIONS_PAGE}/deploy"), &format!("model_id={}&stage=production&reason=try", m[1]))
        .await;
    assert!(
        status == StatusCode::OK && page.contains("Refused:") && page.contains("SQLSTATE 42501"),
        "{page}"
    );

    let a = Browser::sign_in(&r, &f.admin).await;
    // no CSRF token, no action
    let (status, _, _) = raw(
        r.clone(),
        "POST",
        &format!("{ACTIONS_PAGE}/rollback"),
        &[("cookie", a.cookie.clone())],
        Some(("application/x-www-form-urlencoded", "stage=production".into())),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = raw(
        r.clone(),
        "POST",
        &format!("{ACTIONS_PAGE}/rollback"),
        &[("cookie", a.cookie.clone())],
        Some(("application/x-www-form-urlencoded", format!("csrf={}&stage=production", "f".repeat(64)))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, _, page) = a.get(ACTIONS_PAGE).await;
    let request = request_in(&page);
    let (_, page) = a.post(&format!("/ui/requests/{request}/approve"), "comment=looks+good").await;
    assert!(page.contains("class=\"flash ok\"") && page.contains("promoted"), "{page}");
    assert_eq!(serves(&page, "production"), Some(m[1]));
    // a decision says why, and a rollback of production is confirmed
    let (_, page) =
        a.post(&format!("{ACTIONS_PAGE}/rollback"), "stage=production&reason=+&confirm=production").await;
    assert!(page.contains("class=\"flash error\"") && page.contains("say why"), "{page}");
    let (_, page) = a.post(&format!("{ACTIONS_PAGE}/rollback"), "stage=production&reason=latency").await;
    assert!(page.contains("class=\"flash error\"") && page.contains("takes a confirmation"), "{page}");
    assert_eq!(serves(&page, "production"), Some(m[1]));
    let (_, page) = a
        .post(
            &format!("{ACTIONS_PAGE}/rollback"),
            "stage=production&reason=p99+latency+doubled&confirm=production",
        )
        .await;
    assert!(page.contains("Rolled production back."), "{page}");
    assert!(page.contains("p99 latency doubled"), "the audit trail shows the reason: {page}");
    assert_eq!(serves(&page, "production"), Some(m[0]));
    // its own promotion request: the database will not let it review it
    let (_, page) =
        a.post(&format!("{ACTIONS_PAGE}/promote"), "from_stage=staging&to_stage=production").await;
    assert!(page.contains("awaits approval"), "{page}");
    let mine = request_in(&page);
    let (_, page) = a.post(&format!("/ui/requests/{mine}/approve"), "comment=").await;
    assert!(
        page.contains("class=\"flash error\"") && page.contains("Refused:") && page.contains("SQLSTATE"),
        "{page}"
    );
    // another approver rejects it, with a comment the trail keeps
    role(&sql().await, "ui_router_approver", &["pgml_approver"]).await;
    let name = format!("uiv{}", std::process::id());
    let approver = auth::admin::create(&database_url(), &name, "ui_router_approver").await.unwrap();
    let v = Browser::sign_in(&r, &approver).await;
    let (_, page) = v.post(&format!("/ui/requests/{mine}/reject"), "comment=not+this+week").await;
    assert!(
        page.contains("class=\"flash ok\"") && page.contains(&format!("Request {mine}: rejected")),
        "{page}"
    );
    assert!(!page.contains("id=\"requests-table\""), "the rejected request is no longer pending: {page}");
    assert!(page.contains("not this week"), "the audit trail shows the comment: {page}");
    // deploy by id and by strategy, archive
    let (_, page) = a
        .post(&format!("{ACTIONS_PAGE}/deploy"), &format!("model_id={}&stage=staging&reason=canary", m[2]))
        .await;
    assert!(page.contains(&format!("Deployed model {} to staging.", m[2])), "{page}");
    assert_eq!(serves(&page, "staging"), Some(m[2]));
    let (_, page) = a
        .post(&format!("{ACTIONS_PAGE}/deploy"), "strategy=most_recent&model_id=&stage=staging&reason=newest")
        .await;
    assert!(page.contains("class=\"flash"), "a strategy's deploy shows its outcome: {page}");
    let (_, page) = a.post(&format!("{ACTIONS_PAGE}/deploy"), "model_id=x7&stage=staging&reason=typo").await;
    assert!(
        page.contains("\"x7\" is not a model id") || page.contains("&quot;x7&quot; is not a model id"),
        "{page}"
    );
    let (_, page) = a.post(&format!("/ui/models/{}/archive", m[1]), "").await;
    assert!(page.contains(&format!("Archived model {}.", m[1])), "{page}");
    let (_, page) = a.post(&format!("/ui/models/{}/archive", m[0]), "").await;
    assert!(page.contains("Refused:"), "the model production serves is not archived: {page}");
    // the trail shows who did it
    let (_, _, page) = a.get(ACTIONS_PAGE).await;
    assert!(page.contains("approve") && page.contains("ui_router_admin"), "{page}");
}

#[tokio::test]
async fn a_revoked_token_ends_its_dashboard_sessions_within_the_bound() {
    fixture().await;
    let c = sql().await;
    role(&c, "ui_router_revokee", &["pgml_predictor"]).await;
    let name = format!("uir{}", std::process::id());
    let token = auth::admin::create(&database_url(), &name, "ui_router_revokee").await.unwrap();
    let b = Browser::sign_in(&router(), &token).await;
    assert_eq!(b.get("/ui").await.0, StatusCode::OK);
    assert!(auth::admin::revoke(&database_url(), &name).await.unwrap());
    tokio::time::sleep(auth::CACHE_TTL + Duration::from_millis(100)).await;
    let (status, h, _) = b.get("/ui").await;
    assert_eq!((status, location(&h)), (StatusCode::SEE_OTHER, "/ui/signin"));
}

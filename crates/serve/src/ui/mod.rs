//! The dashboard under `/ui`, served by pgml-serve itself: server-side HTML, charts as inline
//! SVG, one style sheet, no script and nothing fetched from elsewhere. It signs in with a
//! pgml-serve token (`session`), and every page and action runs as that token's role, like
//! the API: the database decides what a viewer sees and may do.

pub mod actions;
pub mod chart;
pub mod html;
pub mod pages;
pub mod session;

use crate::AppState;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use html::{page, Flash, Viewer};
use serde::Deserialize;
use session::{cookie, same, set_cookie, SignedIn, COOKIE_NAME, LIFETIME, SIGNIN_COOKIE};
use std::time::Duration;

/// The dashboard's routes (merged into the application by `app`).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ui", get(projects))
        .route("/ui/", get(|| async { Redirect::permanent("/ui") }))
        .route("/ui/style.css", get(style))
        .route("/ui/signin", get(signin_form).post(signin))
        .route("/ui/signout", post(signout))
        .route("/ui/projects/{project}", get(project))
        .route("/ui/projects/{project}/compare", get(compare))
        .route("/ui/projects/{project}/deploy", post(actions::deploy))
        .route("/ui/projects/{project}/rollback", post(actions::rollback))
        .route("/ui/projects/{project}/promote", post(actions::promote))
        .route("/ui/projects/{project}/rollouts/{action}", post(actions::end_rollout))
        .route("/ui/models/{id}", get(model))
        .route("/ui/models/{id}/archive", post(actions::archive))
        .route("/ui/requests/{id}/{decision}", post(actions::review))
        .layer(middleware::from_fn_with_state(state, headers))
}

/// What every dashboard response carries: a strict content security policy (the pages need
/// nothing but their own style sheet), no framing, no caching of pages that show a registry.
async fn headers(State(_): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn style() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], html::STYLE)
        .into_response()
}

/// A page with a status and a message, for mistakes and refusals outside a form's outcome.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"/ui\">Projects</a></p>",
        status.as_u16(),
        html::esc(message)
    );
    (status, Html(page(status.canonical_reason().unwrap_or("Error"), None, None, &body))).into_response()
}

/// A view for a signed-in viewer, with the message its last action left.
async fn render(
    state: &AppState,
    viewer: &SignedIn,
    title: &str,
    view: impl std::future::Future<Output = crate::error::ApiResult<String>>,
) -> Response {
    let flash = state.sessions.take_flash(&viewer.session).map(|(error, text)| Flash { error, text });
    let v = Viewer { role: &viewer.role, csrf: &viewer.csrf };
    match view.await {
        Ok(body) => Html(page(title, Some(&v), flash.as_ref(), &body)).into_response(),
        Err(e) => {
            let body = format!("<h1>{}</h1><p>{}</p>", e.status.as_u16(), html::esc(&actions::readable(&e)));
            (e.status, Html(page(title, Some(&v), flash.as_ref(), &body))).into_response()
        }
    }
}

async fn projects(State(state): State<AppState>, viewer: SignedIn) -> Response {
    let v = Viewer { role: &viewer.role, csrf: &viewer.csrf };
    render(&state, &viewer, "Projects", pages::projects(&state, &v)).await
}

async fn project(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<String>, PathRejection>,
    query: Result<axum::extract::Query<pages::ModelsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Path(name)) = path else { return error_page(StatusCode::BAD_REQUEST, "bad project name") };
    let q = query.map(|q| q.0).unwrap_or_default();
    let v = Viewer { role: &viewer.role, csrf: &viewer.csrf };
    render(&state, &viewer, &name, pages::project(&state, &v, &name, &q)).await
}

#[derive(Deserialize)]
struct CompareQuery {
    #[serde(default)]
    models: String,
}

async fn compare(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<String>, PathRejection>,
    query: Result<axum::extract::Query<CompareQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Path(name)) = path else { return error_page(StatusCode::BAD_REQUEST, "bad project name") };
    let models = query.map(|q| q.0.models).unwrap_or_default();
    let v = Viewer { role: &viewer.role, csrf: &viewer.csrf };
    render(&state, &viewer, &format!("{name}: compare"), pages::compare(&state, &v, &name, &models)).await
}

async fn model(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<i64>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else { return error_page(StatusCode::NOT_FOUND, "no such model") };
    let v = Viewer { role: &viewer.role, csrf: &viewer.csrf };
    render(&state, &viewer, &format!("Model {id}"), pages::model(&state, &v, id)).await
}

fn signin_page(status: StatusCode, headers: &HeaderMap, message: Option<&str>) -> Response {
    let csrf = session::random_id();
    let flash = message.map(|m| Flash { error: true, text: m.to_string() });
    let body = format!(
        "<section class=\"signin\"><h1>Sign in</h1>\
         <form method=\"post\" action=\"/ui/signin\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"token\">pgml-serve token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"none\">Tokens come from <code>pgml-serve token create --name … --role …</code>; \
         the dashboard acts as the token's role.</p></section>"
    );
    let cookie = set_cookie(headers, SIGNIN_COOKIE, &csrf, Duration::from_secs(3600));
    (status, [cookie], Html(page("Sign in", None, flash.as_ref(), &body))).into_response()
}

async fn signin_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE_NAME) {
        if state.sessions.is_live(&id) {
            return Redirect::to("/ui").into_response();
        }
    }
    signin_page(StatusCode::OK, &headers, None)
}

#[derive(Deserialize)]
struct SignInForm {
    csrf: String,
    token: String,
}

async fn signin(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return signin_page(StatusCode::BAD_REQUEST, &headers, Some("The form was incomplete."));
    };
    if !cookie(&headers, SIGNIN_COOKIE).is_some_and(|c| same(&c, &form.csrf)) {
        return signin_page(StatusCode::FORBIDDEN, &headers, Some("The form expired; sign in again."));
    }
    match state.tokens.role(&state.db, form.token.trim()).await {
        Ok(Some(role)) => {
            let id = state.sessions.start(form.token.trim());
            tracing::info!(%role, "dashboard sign-in");
            let session = set_cookie(&headers, COOKIE_NAME, &id, LIFETIME);
            let gone = set_cookie(&headers, SIGNIN_COOKIE, "", Duration::ZERO);
            let mut response = Redirect::to("/ui").into_response();
            response.headers_mut().append(session.0.clone(), session.1);
            response.headers_mut().append(gone.0, gone.1);
            response
        }
        Ok(None) => signin_page(StatusCode::UNAUTHORIZED, &headers, Some("Unknown or revoked token.")),
        Err(e) => signin_page(e.status, &headers, Some(&actions::readable(&e))),
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    csrf: String,
}

async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: SignedIn,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    if !form.is_ok_and(|Form(f)| same(&f.csrf, &viewer.csrf)) {
        return error_page(StatusCode::FORBIDDEN, "The form is not from this session (CSRF check failed).");
    }
    state.sessions.end(&viewer.session);
    let gone = set_cookie(&headers, COOKIE_NAME, "", Duration::ZERO);
    let mut response = Redirect::to("/ui/signin").into_response();
    response.headers_mut().append(gone.0, gone.1);
    response
}

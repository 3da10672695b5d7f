//! The dashboard's actions: deploy (by strategy or model id), roll back, promote, archive,
//! approve and reject, stop a rollout or promote its candidate. Each checks the form's CSRF token, runs the SQL function of the same
//! name as the viewer's role — so the gates, approvals and privileges apply exactly as in SQL —
//! and returns to the page it came from with the outcome as a message: the database's own
//! words and SQLSTATE when it refused.

use super::session::{same, SignedIn};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tokio_postgres::types::Type;

#[derive(Deserialize)]
pub struct DeployForm {
    csrf: String,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    strategy: Option<String>,
    /// Deploy this model instead of by strategy (empty: by strategy).
    #[serde(default)]
    model_id: Option<String>,
    /// Why: recorded in the audit event.
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct StageForm {
    csrf: String,
    #[serde(default)]
    stage: Option<String>,
}

#[derive(Deserialize)]
pub struct RollbackForm {
    csrf: String,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// A rollback of production is confirmed by naming it here.
    #[serde(default)]
    confirm: Option<String>,
}

#[derive(Deserialize)]
pub struct PromoteForm {
    csrf: String,
    #[serde(default)]
    from_stage: Option<String>,
    #[serde(default)]
    to_stage: Option<String>,
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Deserialize)]
pub struct PlainForm {
    csrf: String,
}

/// The database's refusal, for people: its message, hint and SQLSTATE.
pub fn readable(e: &ApiError) -> String {
    let mut text = format!("Refused: {}", e.message);
    if let Some(hint) = &e.hint {
        text.push_str(&format!(" — {hint}"));
    }
    if e.code.len() == 5 {
        text.push_str(&format!(" (SQLSTATE {})", e.code));
    }
    text
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The form's CSRF token must be the session's.
fn checked<T>(
    viewer: &SignedIn,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<T, Box<Response>> {
    let Form(form) =
        form.map_err(|e| Box::new(super::error_page(axum::http::StatusCode::BAD_REQUEST, &e.body_text())))?;
    if !same(csrf(&form), &viewer.csrf) {
        return Err(Box::new(super::error_page(
            axum::http::StatusCode::FORBIDDEN,
            "The form is not from this session (CSRF check failed); reload the page and try again.",
        )));
    }
    Ok(form)
}

/// A project's action: its name from the path and the form, CSRF-checked.
fn project_form<T>(
    viewer: &SignedIn,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<T>, FormRejection>,
    csrf: impl Fn(&T) -> &str,
) -> Result<(String, T), Box<Response>> {
    let Path(project) = path
        .map_err(|_| Box::new(super::error_page(axum::http::StatusCode::BAD_REQUEST, "bad project name")))?;
    Ok((project, checked(viewer, form, csrf)?))
}

/// Leaves the outcome for the next page and goes there.
fn done(state: &AppState, viewer: &SignedIn, outcome: Result<String, ApiError>, to: &str) -> Response {
    match outcome {
        Ok(text) => state.sessions.flash(&viewer.session, false, text),
        Err(e) => state.sessions.flash(&viewer.session, true, readable(&e)),
    }
    Redirect::to(to).into_response()
}

/// The reason a decision's form must give, at most 500 characters.
fn reason(given: Option<String>) -> Result<String, ApiError> {
    nonempty(given).map(|r| r.chars().take(500).collect()).ok_or_else(|| {
        ApiError::bad_request("say why: the audit trail records the reason of every deploy and rollback")
    })
}

/// The stage (the statement's parameter `$stage`) as an argument of a SQL function that first
/// sets `pgml.audit_reason` to the parameter `$reason` for the transaction: the subquery runs
/// before the function, in the statement's own transaction.
fn stage_with_reason(stage: usize, reason: usize) -> String {
    format!("(SELECT ${stage}::text FROM (SELECT set_config('pgml.audit_reason', ${reason}::text, true)) r)")
}

fn project_page(project: &str) -> String {
    format!("/ui/projects/{}", super::html::seg(project))
}

pub async fn deploy(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<DeployForm>, FormRejection>,
) -> Response {
    let (project, form) = match project_form(&viewer, path, form, |f: &DeployForm| &f.csrf) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let stage = nonempty(form.stage).unwrap_or_else(|| "production".into());
    let why = match reason(form.reason) {
        Ok(r) => r,
        Err(e) => return done(&state, &viewer, Err(e), &project_page(&project)),
    };
    let outcome = match nonempty(form.model_id) {
        Some(id) => match id.parse::<i64>() {
            Ok(id) => state
                .db
                .query(
                    &viewer.role,
                    &format!("SELECT * FROM pgml.deploy($1::text, $2::bigint, {})", stage_with_reason(3, 4)),
                    &[(&project, Type::TEXT), (&id, Type::INT8), (&stage, Type::TEXT), (&why, Type::TEXT)],
                )
                .await
                .map(|_| format!("Deployed model {id} to {stage}.")),
            Err(_) => Err(ApiError::bad_request(format!("\"{id}\" is not a model id"))),
        },
        None => {
            let strategy = nonempty(form.strategy).unwrap_or_else(|| "best_score".into());
            state
                .db
                .query(
                    &viewer.role,
                    &format!(
                        "SELECT * FROM pgml.deploy($1::text, $2::text, NULL, {})",
                        stage_with_reason(3, 4)
                    ),
                    &[
                        (&project, Type::TEXT),
                        (&strategy, Type::TEXT),
                        (&stage, Type::TEXT),
                        (&why, Type::TEXT),
                    ],
                )
                .await
                .map(|rows| {
                    let algorithm: Option<String> = rows.first().and_then(|r| r.get(2));
                    format!("Deployed by {strategy} to {stage} ({}).", algorithm.unwrap_or_default())
                })
        }
    };
    done(&state, &viewer, outcome, &project_page(&project))
}

pub async fn rollback(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<RollbackForm>, FormRejection>,
) -> Response {
    let (project, form) = match project_form(&viewer, path, form, |f: &RollbackForm| &f.csrf) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let stage = nonempty(form.stage).unwrap_or_else(|| "production".into());
    let why = match reason(form.reason) {
        Ok(r) => r,
        Err(e) => return done(&state, &viewer, Err(e), &project_page(&project)),
    };
    if stage == "production" && nonempty(form.confirm).as_deref() != Some("production") {
        let e = ApiError::bad_request("rolling back production takes a confirmation: tick the box");
        return done(&state, &viewer, Err(e), &project_page(&project));
    }
    let outcome = state
        .db
        .query(
            &viewer.role,
            &format!("SELECT * FROM pgml.deploy($1::text, 'rollback', NULL, {})", stage_with_reason(2, 3)),
            &[(&project, Type::TEXT), (&stage, Type::TEXT), (&why, Type::TEXT)],
        )
        .await
        .map(|_| format!("Rolled {stage} back."));
    done(&state, &viewer, outcome, &project_page(&project))
}

pub async fn promote(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<PromoteForm>, FormRejection>,
) -> Response {
    let (project, form) = match project_form(&viewer, path, form, |f: &PromoteForm| &f.csrf) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let from = nonempty(form.from_stage).unwrap_or_else(|| "staging".into());
    let to = nonempty(form.to_stage).unwrap_or_else(|| "production".into());
    let outcome = state
        .db
        .query(
            &viewer.role,
            "SELECT model_id, status, request_id FROM pgml.promote($1::text, $2::text, $3::text)",
            &[(&project, Type::TEXT), (&from, Type::TEXT), (&to, Type::TEXT)],
        )
        .await
        .map(|rows| match rows.first() {
            Some(r) if r.get::<_, String>(1) == "pending" => format!(
                "Model {} awaits approval for {to} (request {}).",
                r.get::<_, i64>(0),
                r.get::<_, Option<i64>>(2).unwrap_or_default()
            ),
            Some(r) => format!("Promoted model {} from {from} to {to}.", r.get::<_, i64>(0)),
            None => format!("Promoted {from} to {to}."),
        });
    done(&state, &viewer, outcome, &project_page(&project))
}

pub async fn archive(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<i64>, PathRejection>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return super::error_page(axum::http::StatusCode::BAD_REQUEST, "bad model id");
    };
    if let Err(r) = checked(&viewer, form, |f: &PlainForm| &f.csrf) {
        return *r;
    }
    let outcome = state
        .db
        .query(&viewer.role, "SELECT pgml.archive_model($1)", &[(&id, Type::INT8)])
        .await
        .map(|_| format!("Archived model {id}."));
    done(&state, &viewer, outcome, &format!("/ui/models/{id}"))
}

/// Approve or reject a pending promotion, back to its project's page.
pub async fn review(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<(i64, String)>, PathRejection>,
    form: Result<Form<ReviewForm>, FormRejection>,
) -> Response {
    let Ok(Path((id, decision))) = path else {
        return super::error_page(axum::http::StatusCode::BAD_REQUEST, "bad request id");
    };
    let sql = match decision.as_str() {
        "approve" => {
            "SELECT status, approvals, approvals_required, model_id, stage FROM pgml.approve($1, $2)"
        }
        "reject" => "SELECT status, approvals, approvals_required, model_id, stage FROM pgml.reject($1, $2)",
        _ => return super::error_page(axum::http::StatusCode::NOT_FOUND, "no such action"),
    };
    let form = match checked(&viewer, form, |f: &ReviewForm| &f.csrf) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let comment = nonempty(form.comment);
    let project = state
        .db
        .query(
            &viewer.role,
            "SELECT p.name FROM pgml.promotion_requests r JOIN pgml.projects p ON p.id = r.project_id WHERE r.id = $1",
            &[(&id, Type::INT8)],
        )
        .await
        .ok()
        .and_then(|rows| rows.first().map(|r| r.get::<_, String>(0)));
    let outcome =
        state.db.query(&viewer.role, sql, &[(&id, Type::INT8), (&comment, Type::TEXT)]).await.map(|rows| {
            match rows.first() {
                Some(r) => format!(
                    "Request {id}: {} ({} of {} approvals), model {} for {}.",
                    r.get::<_, String>(0),
                    r.get::<_, i32>(1),
                    r.get::<_, i32>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, String>(4)
                ),
                None => format!("Request {id} reviewed."),
            }
        });
    let to = project.map_or_else(|| "/ui".to_string(), |p| project_page(&p));
    done(&state, &viewer, outcome, &to)
}

/// Stops the rollout running on a stage (`promote`: its candidate is promoted now, through the
/// stage's gates and approvals), with `pgml.stop_rollout` as the viewer's role.
pub async fn end_rollout(
    State(state): State<AppState>,
    viewer: SignedIn,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<StageForm>, FormRejection>,
) -> Response {
    let Ok(Path((project, action))) = path else {
        return super::error_page(axum::http::StatusCode::BAD_REQUEST, "bad project name");
    };
    let promote = match action.as_str() {
        "stop" => false,
        "promote" => true,
        _ => return super::error_page(axum::http::StatusCode::NOT_FOUND, "no such action"),
    };
    let form = match checked(&viewer, form, |f: &StageForm| &f.csrf) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let stage = nonempty(form.stage).unwrap_or_else(|| "production".into());
    let outcome = state
        .db
        .query(
            &viewer.role,
            "SELECT rollout_id, state FROM pgml.stop_rollout($1::text, $2::text, $3::bool)",
            &[(&project, Type::TEXT), (&stage, Type::TEXT), (&promote, Type::BOOL)],
        )
        .await
        .map(|rows| match rows.first() {
            Some(r) => format!("Rollout {} on {stage}: {}.", r.get::<_, i64>(0), r.get::<_, String>(1)),
            None => format!("Rollout on {stage} ended."),
        });
    done(&state, &viewer, outcome, &project_page(&project))
}

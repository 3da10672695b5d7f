//! The router: every route, the request limits, the metrics middleware, and the OpenAPI
//! document generated from the handlers' annotations.

use crate::error::{ApiError, ErrorBody};
use crate::routes::{explain, lifecycle, ops, predict, registry, rpc};
use crate::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::time::Instant;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// Request bodies above this size are refused with 413.
pub const BODY_LIMIT: usize = 1 << 20;

#[derive(OpenApi)]
#[openapi(
    info(title = "pgml-serve", description = "Stable HTTP prediction endpoints over a pgml-rs database"),
    paths(
        predict::predict, predict::predict_proba, explain::explain,
        registry::projects, registry::project, registry::models, registry::deployments, registry::export,
        lifecycle::deploy, lifecycle::rollback, lifecycle::promote, lifecycle::approve, lifecycle::reject,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every operation documents the errors it can answer, all with the same JSON body (applied
/// by `openapi_document`, after the `/rpc` paths join the handlers').
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics" | "/openapi.json");
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                let mut codes = vec![("500", "Internal error (details only in the server log)")];
                if path == "/readyz" {
                    codes.push(("503", "The database is not reachable"));
                    codes.push(("504", "The database did not answer in time"));
                }
                if !public {
                    codes.extend([
                        ("400", "Malformed request, or features or arguments the call cannot take"),
                        ("401", "Missing, unknown or revoked token"),
                        ("403", "The token's role lacks the privilege"),
                        ("404", "Unknown project, stage, model, request or function"),
                        ("409", "Refused by a gate, an approval rule or the state of the registry"),
                        ("503", "The database is not reachable"),
                        ("504", "The request took longer than the server's timeout"),
                    ]);
                    if op.request_body.is_some() {
                        codes.push(("413", "Request body too large"));
                        codes.push(("415", "The body is not JSON"));
                    }
                }
                for (code, description) in codes {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

/// The OpenAPI document: the handlers' paths and `extra` ones (the exposed `/rpc`
/// functions), every operation documenting the same error responses.
pub fn openapi_document(extra: Vec<(String, utoipa::openapi::PathItem)>) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.paths.paths.extend(extra);
    ErrorResponses.modify(&mut doc);
    doc
}

/// Counts and times every request by route pattern.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.request(route, method.as_str(), status, started.elapsed().as_secs_f64());
    if status >= 400 {
        tracing::info!(%route, %method, status, "request refused");
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint").hint("see GET /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed")
}

/// The application, ready for `axum::serve` or `oneshot` in tests.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/projects", get(registry::projects))
        .route("/v1/projects/{project}", get(registry::project))
        .route("/v1/projects/{project}/models", get(registry::models))
        .route("/v1/projects/{project}/deployments", get(registry::deployments))
        .route("/v1/models/{id}/export", get(registry::export))
        .route("/v1/projects/{project}/predict", post(predict::predict))
        .route("/v1/projects/{project}/predict_proba", post(predict::predict_proba))
        .route("/v1/projects/{project}/explain", post(explain::explain))
        .route("/v1/projects/{project}/deploy", post(lifecycle::deploy))
        .route("/v1/projects/{project}/rollback", post(lifecycle::rollback))
        .route("/v1/projects/{project}/promote", post(lifecycle::promote))
        .route("/v1/promotion_requests/{id}/approve", post(lifecycle::approve))
        .route("/v1/promotion_requests/{id}/reject", post(lifecycle::reject))
        .route("/rpc/{function}", get(rpc::get).post(rpc::post))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .merge(crate::ui::routes(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

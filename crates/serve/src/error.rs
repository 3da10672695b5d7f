//! The one mapping from failures to HTTP responses. The database decides most errors; its
//! SQLSTATE picks the status, and its message and hint reach the caller as JSON. Internal
//! failures are logged and answered with a plain 500 that reveals nothing.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A SQLSTATE when the database refused the request, else a short code (`unauthorized`,
    /// `bad_request`, `not_found`, `timeout`, `unavailable`, `internal`).
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// An error on its way to the HTTP caller.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_string(), message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            .hint("send Authorization: Bearer <token>; tokens come from `pgml-serve token create`")
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn timeout() -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request took longer than the server's timeout",
        )
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(%cause, "database unavailable");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is not reachable")
    }

    /// Logs the cause; the caller sees only that something failed.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
    }
}

/// HTTP status for a SQLSTATE: the user's mistakes are 4xx, the rest 5xx.
fn status_of(sqlstate: &str) -> StatusCode {
    match sqlstate {
        "42501" => StatusCode::FORBIDDEN,
        "42704" | "42P01" | "42703" | "42883" => StatusCode::NOT_FOUND,
        "55000" | "23505" => StatusCode::CONFLICT,
        "57014" => StatusCode::GATEWAY_TIMEOUT,
        "53000" | "53100" | "53200" | "53300" => StatusCode::SERVICE_UNAVAILABLE,
        s if s.starts_with("22") || s == "0A000" || s == "42804" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure of the core crate on the in-process path: the SQLSTATE and status the extension
/// gives the same failure, with the same message and hint.
impl From<pgml_core::Error> for ApiError {
    fn from(e: pgml_core::Error) -> ApiError {
        use pgml_core::Error as E;
        let code = match &e {
            E::InvalidArgument { .. } => "22023",
            E::Unsupported { .. } => "0A000",
            E::Data { .. } => "22000",
            E::NotFound { .. } => "42704",
            E::Refused { .. } => "55000",
            E::Forbidden { .. } => "42501",
            E::Internal(_) => return ApiError::internal(e),
        };
        ApiError {
            status: status_of(code),
            code: code.to_string(),
            message: e.to_string(),
            hint: e.hint().map(str::to_string),
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> ApiError {
        let Some(db) = e.as_db_error() else {
            return if e.is_closed() { ApiError::unavailable(e) } else { ApiError::internal(e) };
        };
        let status = status_of(db.code().code());
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return ApiError::internal(format!("{}: {}", db.code().code(), db.message()));
        }
        ApiError {
            status,
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            hint: db.hint().map(str::to_string),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let status = match &r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "bad_request", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::bad_request(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code, message: self.message, hint: self.hint } };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_mistakes_are_4xx_and_the_rest_5xx() {
        assert_eq!(status_of("42501"), StatusCode::FORBIDDEN);
        assert_eq!(status_of("42704"), StatusCode::NOT_FOUND);
        assert_eq!(status_of("22000"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("22023"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("0A000"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("55000"), StatusCode::CONFLICT);
        assert_eq!(status_of("XX000"), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

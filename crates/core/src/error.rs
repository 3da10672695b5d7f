//! The one error type of the core. Each variant says whose mistake it is, so the boundaries
//! (SQL, HTTP) can map it to a status without parsing messages.

/// Errors returned by the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value is invalid (bad hyperparameter, bad option, bad shape).
    #[error("{message}")]
    InvalidArgument { message: String, hint: Option<String> },
    /// The request is understood but not supported (unknown algorithm, task/algorithm mismatch).
    #[error("{message}")]
    Unsupported { message: String, hint: Option<String> },
    /// The data cannot be used (empty, NULL labels, wrong feature count).
    #[error("{message}")]
    Data { message: String, hint: Option<String> },
    /// Something asked for does not exist (no earlier deployment to roll back to, no candidate).
    #[error("{message}")]
    NotFound { message: String, hint: Option<String> },
    /// The request is valid but the objects involved are not in a state that allows it (a
    /// promotion gate failed, a model still serves a stage).
    #[error("{message}")]
    Refused { message: String, hint: Option<String> },
    /// The caller's role may not do this (approve its own request, override a gate).
    #[error("{message}")]
    Forbidden { message: String, hint: Option<String> },
    /// A failure inside a library or our own code: a bug or a resource problem, not the user's.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidArgument { message: message.into(), hint: None }
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported { message: message.into(), hint: None }
    }
    pub fn data(message: impl Into<String>) -> Self {
        Error::Data { message: message.into(), hint: None }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound { message: message.into(), hint: None }
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Error::Refused { message: message.into(), hint: None }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden { message: message.into(), hint: None }
    }

    /// Attaches a hint telling the user what to do instead.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            Error::InvalidArgument { hint, .. }
            | Error::Unsupported { hint, .. }
            | Error::Data { hint, .. }
            | Error::NotFound { hint, .. }
            | Error::Refused { hint, .. }
            | Error::Forbidden { hint, .. } => *hint = Some(text.into()),
            Error::Internal(_) => {}
        }
        self
    }

    /// The hint, if one was attached.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::InvalidArgument { hint, .. }
            | Error::Unsupported { hint, .. }
            | Error::Data { hint, .. }
            | Error::NotFound { hint, .. }
            | Error::Refused { hint, .. }
            | Error::Forbidden { hint, .. } => hint.as_deref(),
            Error::Internal(_) => None,
        }
    }
}

/// Result with the core's error.
pub type Result<T> = std::result::Result<T, Error>;

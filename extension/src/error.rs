//! The one place where errors become PostgreSQL errors: a real SQLSTATE, a message naming
//! the bad value, and a hint where one helps.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// An error on its way to the SQL caller.
#[derive(Debug)]
pub struct SqlError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, SqlError>;

impl SqlError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> SqlError {
        SqlError { code, message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> SqlError {
        self.hint = Some(hint.into());
        self
    }

    /// An unknown project, model or other registry object (42704).
    pub fn undefined(message: impl Into<String>) -> SqlError {
        SqlError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, message)
    }

    /// A bad argument (22023).
    pub fn invalid(message: impl Into<String>) -> SqlError {
        SqlError::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }

    /// The five-character SQLSTATE, e.g. 42P01 (PostgreSQL packs it six bits a character).
    pub fn sqlstate(&self) -> String {
        let packed = self.code as i32;
        (0..5).map(|i| (((packed >> (6 * i)) & 0x3F) as u8 + b'0') as char).collect()
    }

    /// Raises the error in PostgreSQL; never returns.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "pgml");
        if let Some(h) = self.hint {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

impl From<pgml_core::Error> for SqlError {
    fn from(e: pgml_core::Error) -> SqlError {
        use pgml_core::Error as E;
        let code = match &e {
            E::InvalidArgument { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            E::Unsupported { .. } => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            E::Data { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            E::NotFound { .. } => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            E::Refused { .. } => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            E::Forbidden { .. } => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            E::Internal(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        };
        SqlError { code, hint: e.hint().map(str::to_string), message: e.to_string() }
    }
}

impl From<pgml_embed::EmbedError> for SqlError {
    fn from(e: pgml_embed::EmbedError) -> SqlError {
        use pgml_embed::EmbedError as E;
        let code = match &e {
            E::NotInstalled { .. } => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            E::Unsupported(_) => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            E::InvalidArgument(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            E::ModelFile(_) => PgSqlErrorCode::ERRCODE_IO_ERROR,
        };
        SqlError { code, hint: e.hint(), message: e.to_string() }
    }
}

impl From<pgrx::spi::Error> for SqlError {
    fn from(e: pgrx::spi::Error) -> SqlError {
        SqlError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("SPI: {e}"))
    }
}

/// Unwraps or raises: the last step of every `#[pg_extern]`.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T, E: Into<SqlError>> OrRaise<T> for std::result::Result<T, E> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.into().raise(),
        }
    }
}

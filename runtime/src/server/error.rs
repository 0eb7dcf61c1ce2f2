//! Errors as the API answers them: a status and `{"error": {"kind", "message", ...}}`.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::pipeline;
use crate::store;
use crate::wasm;
use crate::wasm::bindings::berth::core::types;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
    /// For a failed command: its exit code, stdout and stderr.
    details: Option<(Option<i32>, Option<String>, Option<String>)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: kind.to_string(),
            message: message.into(),
            details: None,
        }
    }

    /// A request past one of the tenant's quotas.
    pub fn quota(message: String) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota", message)
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// The berth error a function returned: 422, with the error's own kind.
    pub fn function_failed(error: &types::Error) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: error.kind.to_string(),
            message: error.message.clone(),
            details: Some((error.exit_code, error.stdout.clone(), error.stderr.clone())),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "kind": self.kind, "message": self.message });
        if let Some((exit_code, stdout, stderr)) = self.details {
            error["exit_code"] = json!(exit_code);
            error["stdout"] = json!(stdout);
            error["stderr"] = json!(stderr);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-argument",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-argument",
            rejection.body_text(),
        )
    }
}

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> ApiError {
        let (status, kind) = match &error {
            store::Error::NotInstalled { .. } => (StatusCode::NOT_FOUND, "not-found"),
            store::Error::VersionTaken { .. } => (StatusCode::CONFLICT, "conflict"),
            store::Error::BadName(_)
            | store::Error::BadDigest(_)
            | store::Error::BadReference(_)
            | store::Error::AmbiguousDigest { .. } => (StatusCode::BAD_REQUEST, "invalid-argument"),
            store::Error::Invalid(e) => return ApiError::from(e),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        // The CLI's advice (`berth plugin list`, `--force`) means nothing here.
        let message = match &error {
            store::Error::NotInstalled { reference, .. } => {
                format!("no plugin {reference} is installed; GET /v1/plugins lists them")
            }
            store::Error::VersionTaken { id, installed, new } => format!(
                "{id} is already installed with another component ({installed}, this one is {new}); give it a new version, or delete the installed one first"
            ),
            other => other.to_string(),
        };
        ApiError::new(status, kind, message)
    }
}

impl From<&wasm::Error> for ApiError {
    fn from(error: &wasm::Error) -> ApiError {
        use wasm::Error as E;
        let (status, kind) = match error {
            E::NotWasm { .. }
            | E::CoreModule { .. }
            | E::InvalidComponent { .. }
            | E::ForeignImport { .. }
            | E::Link { .. } => (StatusCode::BAD_REQUEST, "invalid-plugin"),
            E::UnknownFunction { .. } => (StatusCode::NOT_FOUND, "not-found"),
            E::UnknownParameter { .. }
            | E::MissingParameter { .. }
            | E::BadValue { .. }
            | E::BadArgument(_) => (StatusCode::BAD_REQUEST, "invalid-argument"),
            E::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            E::MemoryLimit { .. } | E::ResourceLimit { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "limit-exceeded")
            }
            E::Trap { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "trap"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, kind, api_message(error))
    }
}

/// The error as an API caller reads it: arguments are JSON fields here, not
/// the CLI's `--flags`.
fn api_message(error: &wasm::Error) -> String {
    use wasm::Error as E;
    match error {
        E::UnknownParameter {
            function,
            name,
            valid,
        } => format!(
            "`{function}` has no parameter `{name}`; its parameters: {}",
            if valid.is_empty() {
                "none".to_string()
            } else {
                valid.join(", ")
            }
        ),
        E::MissingParameter { function, name, ty } => {
            format!("`{function}` needs the argument `{name}` ({ty})")
        }
        E::BadValue {
            name,
            value,
            ty,
            message,
        } => format!("argument `{name}`: {value} is not a valid {ty}: {message}"),
        other => other.to_string(),
    }
}

impl From<pipeline::Error> for ApiError {
    /// A failure of the host's own work for a call, told as the guest would be told it.
    fn from(error: pipeline::Error) -> ApiError {
        ApiError::function_failed(&types::Error::from(&error))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    /// Blocking work (validating, compiling) that panicked or was cancelled.
    fn from(error: tokio::task::JoinError) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }
}

impl From<wasm::Error> for ApiError {
    fn from(error: wasm::Error) -> ApiError {
        ApiError::from(&error)
    }
}

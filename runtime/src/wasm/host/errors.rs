//! How host failures become the guest's `types.error`.

use crate::backend;
use crate::pipeline;
use crate::wasm::bindings::berth::core::types::{Error, ErrorKind, Host};
use crate::wasm::state::CallState;

impl Host for CallState {}

impl Error {
    /// An error of `kind` with only a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            exit_code: None,
            stdout: None,
            stderr: None,
        }
    }
}

impl From<pipeline::Error> for Error {
    fn from(error: pipeline::Error) -> Self {
        Error::from(&error)
    }
}

impl From<&pipeline::Error> for Error {
    fn from(error: &pipeline::Error) -> Self {
        let message = error.to_string();
        match error {
            pipeline::Error::ExecFailed {
                exit_code,
                stdout,
                stderr,
                ..
            } => Error {
                kind: ErrorKind::ExecFailed,
                message,
                exit_code: Some(*exit_code),
                stdout: Some(stdout.clone()),
                stderr: Some(stderr.clone()),
            },
            pipeline::Error::ServiceExited {
                exit_code, logs, ..
            } => Error {
                kind: ErrorKind::ServiceExited,
                message,
                exit_code: i32::try_from(*exit_code).ok(),
                stdout: None,
                stderr: Some(logs.clone()),
            },
            pipeline::Error::Unhealthy { logs, .. } => Error {
                stderr: Some(logs.clone()),
                ..Error::new(ErrorKind::Unhealthy, message)
            },
            pipeline::Error::HealthTimeout { logs, .. } => Error {
                stderr: Some(logs.clone()),
                ..Error::new(ErrorKind::Timeout, message)
            },
            pipeline::Error::StartFailed(shared) => Error::from(&**shared),
            pipeline::Error::NoExec
            | pipeline::Error::InvalidArgument(_)
            | pipeline::Error::ServiceNotRunning(_) => {
                Error::new(ErrorKind::InvalidArgument, message)
            }
            pipeline::Error::NotAllowed(_) => Error::new(ErrorKind::NotAllowed, message),
            pipeline::Error::LimitExceeded(_) => Error::new(ErrorKind::LimitExceeded, message),
            pipeline::Error::Backend(backend) => Error::new(backend_kind(backend), message),
            pipeline::Error::Cache { .. } => Error::new(ErrorKind::Backend, message),
        }
    }
}

fn backend_kind(error: &backend::Error) -> ErrorKind {
    match error {
        backend::Error::ImageNotFound { .. } => ErrorKind::ImageNotFound,
        backend::Error::FileNotFound { .. } | backend::Error::NotAFile { .. } => {
            ErrorKind::InvalidArgument
        }
        backend::Error::FileTooLarge { .. } => ErrorKind::LimitExceeded,
        backend::Error::EngineTimeout { .. } => ErrorKind::Timeout,
        _ => ErrorKind::Backend,
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::NotAllowed => "not-allowed",
            ErrorKind::LimitExceeded => "limit-exceeded",
            ErrorKind::ImageNotFound => "image-not-found",
            ErrorKind::ExecFailed => "exec-failed",
            ErrorKind::Unhealthy => "unhealthy",
            ErrorKind::ServiceExited => "service-exited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Backend => "backend",
        })
    }
}

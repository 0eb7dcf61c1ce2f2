use std::path::PathBuf;

use crate::backend;

/// Why a pipeline could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A command exited non-zero.
    #[error("`{}` exited with code {exit_code}{}", args.join(" "), stderr_suffix(stderr))]
    ExecFailed {
        args: Vec<String>,
        exit_code: i32,
        stdout: String,
        stderr: String,
    },

    /// Output was asked of a pipeline that runs nothing.
    #[error("this container has no with-exec step, so it has no output; add one")]
    NoExec,

    /// The function passed a value that cannot work.
    #[error("{0}")]
    InvalidArgument(String),

    /// The policy in berth.toml refuses the request.
    #[error("{0}")]
    NotAllowed(String),

    /// A per-call cap in berth.toml was reached.
    #[error("{0}")]
    LimitExceeded(String),

    /// A service exited (before it was healthy, or while a client used it).
    #[error("service {service} exited with code {exit_code}{}", log_suffix(logs))]
    ServiceExited {
        service: String,
        exit_code: i64,
        logs: String,
    },

    /// A service answered its health check, but not as required.
    #[error(
        "service {service} is unhealthy: {probe}: {message}{}",
        log_suffix(logs)
    )]
    Unhealthy {
        service: String,
        probe: String,
        message: String,
        logs: String,
    },

    /// A service did not pass its health check in time.
    #[error(
        "service {service} was not healthy within {:.1}s: {probe}: {message}{}",
        timeout.as_secs_f64(),
        log_suffix(logs)
    )]
    HealthTimeout {
        service: String,
        probe: String,
        message: String,
        timeout: std::time::Duration,
        logs: String,
    },

    /// A service operation that needs a running service found none.
    #[error("service {0} is not running (start it, or bind it to a container)")]
    ServiceNotRunning(String),

    /// A service start this caller waited for failed; the same failure.
    #[error(transparent)]
    StartFailed(std::sync::Arc<Error>),

    /// The engine failed.
    #[error(transparent)]
    Backend(#[from] backend::Error),

    /// The exec cache on disk could not be written.
    #[error("exec cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let last_line = stderr.lines().rev().find(|l| !l.trim().is_empty());
    match last_line {
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

fn log_suffix(logs: &str) -> String {
    if logs.trim().is_empty() {
        return "; it logged nothing".to_string();
    }
    let lines: Vec<&str> = logs.lines().collect();
    let tail = &lines[lines.len().saturating_sub(10)..];
    format!("; last log lines:\n  {}", tail.join("\n  "))
}

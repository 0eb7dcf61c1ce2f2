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

    /// The pipeline uses something this berth cannot do yet.
    #[error("not supported: {0}")]
    NotSupported(String),

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

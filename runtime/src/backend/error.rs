/// A failure of the container engine, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No engine answered at the configured address.
    #[error(
        "no Docker engine at {endpoint} ({detail}); is dockerd running? set DOCKER_HOST to point at it"
    )]
    EngineUnreachable { endpoint: String, detail: String },

    /// The engine did not answer in time.
    #[error("the Docker engine at {endpoint} did not answer within {seconds}s while {action}")]
    EngineTimeout {
        endpoint: String,
        action: String,
        seconds: u64,
    },

    /// The image is neither local nor pullable.
    #[error("image `{reference}` is not on the engine and could not be pulled: {message}")]
    ImageNotFound { reference: String, message: String },

    /// A file or directory asked for does not exist in the container.
    #[error("no file `{path}` in the container")]
    FileNotFound { path: String },

    /// The path names a directory, not a file.
    #[error("`{path}` is a directory, not a file")]
    NotAFile { path: String },

    /// A service container a running container depends on exited first.
    #[error("service container {container} exited with code {exit_code} while a client used it")]
    DependencyExited { container: String, exit_code: i64 },

    /// The engine refused a request; `message` is its own words.
    #[error("{action}: the engine answered {status}: {message}")]
    Engine {
        action: String,
        status: u16,
        message: String,
    },

    /// The request did not reach the engine or its answer was broken.
    #[error("{action}: {source}")]
    Transport {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    /// A tar archive to or from the engine could not be built or read.
    #[error("{action}: {source}")]
    Archive {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

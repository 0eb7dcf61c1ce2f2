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

    /// The file is larger than berth reads out of a container.
    #[error("`{path}` is larger than {} MiB, the most berth reads out of a container", limit >> 20)]
    FileTooLarge { path: String, limit: usize },

    /// The path names a directory, not a file.
    #[error("`{path}` is a directory, not a file")]
    NotAFile { path: String },

    /// A service container a running container depends on exited first.
    #[error("service container {container} exited with code {exit_code} while a client used it")]
    DependencyExited { container: String, exit_code: i64 },

    /// A container berth was using was removed by someone else.
    #[error(
        "the container of {what} ({container}) was removed from outside berth (`docker rm`, a prune) while it ran"
    )]
    ContainerRemoved { what: String, container: String },

    /// Nothing accepted a connection to a service's port (yet).
    #[error("nothing answers at {address}: {detail}")]
    PortClosed { address: String, detail: String },

    /// The containers of a network reach none of this host's addresses, so
    /// host services cannot be carried to them.
    #[error(
        "containers on network {network} reach this host at none of its addresses ({}); host services need a route from the engine's containers to this host",
        tried.join(", ")
    )]
    HostUnreachable { network: String, tried: Vec<String> },

    /// The relay berth runs where it cannot dial containers has no image it can use.
    #[error(
        "berth's relay image `{image}` cannot run: {message}; it is what reaches services on an engine whose container addresses do not route from here: set [engine] relay_image in berth.toml to an image with sh, sleep and busybox's nc that the engine has or can pull"
    )]
    RelayImage { image: String, message: String },

    /// The engine does not offer an operation berth needs.
    #[error(
        "the engine at {endpoint} does not {operation} ({detail}); berth needs it {needed_for}"
    )]
    EngineLacks {
        endpoint: String,
        operation: &'static str,
        needed_for: &'static str,
        detail: String,
    },

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

/// Words of the engine's answer when a container's command cannot run.
const EXEC_FAILURES: &[&str] = &[
    "executable file not found",
    "no such file or directory",
    "permission denied",
];

/// Words of other 409 and 500 answers that repeat when the request is sent again.
const PERMANENT_REFUSALS: &[&str] = &[
    // Exec into, or stop, a container that has exited.
    "is not running",
    // Removing an image that others build on or use.
    "dependent child images",
    "is being used by",
    "must be forced",
    // A name that is taken.
    "is already in use",
];

impl Error {
    /// Whether sending the request again, now or later, cannot help: the
    /// engine lacks the operation, or berth's relay image cannot run there.
    pub fn is_lasting(&self) -> bool {
        matches!(self, Error::EngineLacks { .. } | Error::RelayImage { .. })
    }

    /// Whether the engine answered 404: the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Engine { status: 404, .. })
    }

    /// Whether sending the request again may succeed: the engine answered 409
    /// (a conflict with an operation in flight) or 500 (an internal failure),
    /// and not with one of the refusals that repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Engine {
                status: 409 | 500,
                message,
                ..
            } => {
                !is_exec_failure(message)
                    && !PERMANENT_REFUSALS
                        .iter()
                        .any(|refusal| message.contains(refusal))
            }
            // An answer naming a state the client has no word for: Podman
            // reports a container `stopped` for a moment between its exit
            // and `exited`. Asked again, it answers in known words.
            Error::Transport {
                source: bollard::errors::Error::JsonDataError { message, .. },
                ..
            } => message.contains("unknown variant"),
            _ => false,
        }
    }
}

/// Whether the engine refused to start a container because its command cannot run.
pub(crate) fn is_exec_failure(message: &str) -> bool {
    EXEC_FAILURES
        .iter()
        .any(|failure| message.contains(failure))
}

#[cfg(test)]
mod tests {
    use super::Error;

    fn engine(status: u16, message: &str) -> Error {
        Error::Engine {
            action: "testing".into(),
            status,
            message: message.into(),
        }
    }

    #[test]
    fn conflicts_and_internal_failures_are_transient_unless_they_repeat() {
        assert!(engine(500, "driver failed programming external connectivity").is_transient());
        assert!(engine(409, "removal of container abc is already in progress").is_transient());
        assert!(!engine(500, "exec: \"nope\": executable file not found in $PATH").is_transient());
        assert!(!engine(409, "container abc is not running").is_transient());
        assert!(!engine(409, "image has dependent child images").is_transient());
        assert!(!engine(404, "no such container").is_transient());
        assert!(!engine(400, "bad parameter").is_transient());
        let unknown_state = Error::Transport {
            action: "inspecting".into(),
            source: bollard::errors::Error::JsonDataError {
                message: "unknown variant `stopped`, expected one of `running`".into(),
                column: 208,
            },
        };
        assert!(unknown_state.is_transient());
    }

    #[test]
    fn only_a_404_is_not_found() {
        assert!(engine(404, "no such image").is_not_found());
        assert!(!engine(409, "conflict").is_not_found());
    }
}

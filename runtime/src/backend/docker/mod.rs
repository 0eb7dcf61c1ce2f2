//! [`ContainerBackend`] on a Docker engine through bollard.
//!
//! The engine here may be as old as API 1.41 (Docker 20.10): the client
//! negotiates its version and sends no field newer than that.

mod archive;
mod cleanup;
mod images;
mod services;
mod steps;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use tokio::sync::OnceCell;

use super::{
    ContainerBackend, ContainerState, Error, ImageId, Labels, NetworkInfo, ProgressSink,
    ServiceContainer, ServiceRun, StepOutput, StepRun,
};
use crate::spec::NewFile;

/// How long berth waits for an engine to answer its first request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a short engine request (create, inspect, remove) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// bollard's own per-request timeout; long waits (a step's command) must fit in it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A Docker engine, connected on first use.
pub struct DockerBackend {
    client: OnceCell<Docker>,
    endpoint: String,
    /// Orphan containers removed when this client connected.
    reaped_on_connect: std::sync::atomic::AtomicUsize,
}

impl Default for DockerBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl DockerBackend {
    /// The engine named by `DOCKER_HOST` (or the local socket). Nothing is
    /// sent until the first request, so calls that need no engine work without one.
    pub fn new() -> DockerBackend {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        DockerBackend {
            client: OnceCell::new(),
            endpoint,
            reaped_on_connect: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The connected client: on first use, connects and negotiates the API
    /// version, failing within two seconds when no engine answers, and then
    /// removes the containers of berth processes that died (`kill -9`, a crash).
    pub async fn client(&self) -> Result<&Docker, Error> {
        self.client.get_or_try_init(|| self.connect()).await
    }

    async fn connect(&self) -> Result<Docker, Error> {
        let endpoint = self.endpoint.clone();
        let unreachable = |detail: String| Error::EngineUnreachable {
            endpoint: endpoint.clone(),
            detail,
        };
        let docker = Docker::connect_with_defaults()
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(CLIENT_TIMEOUT);
        let docker = match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(docker)) => docker,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(Error::EngineTimeout {
                    endpoint,
                    action: "connecting".into(),
                    seconds: CONNECT_TIMEOUT.as_secs(),
                });
            }
        };
        let reaped = cleanup::remove_orphan_containers(&docker).await;
        self.reaped_on_connect
            .store(reaped, std::sync::atomic::Ordering::Relaxed);
        Ok(docker)
    }

    /// Removes the containers of berth processes that are gone; returns how
    /// many this client has removed since it connected.
    pub async fn remove_orphans(&self) -> Result<usize, Error> {
        let now = cleanup::remove_orphan_containers(self.client().await?).await;
        Ok(now
            + self
                .reaped_on_connect
                .load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Runs one short engine request with a deadline, naming `action` in errors.
    async fn request<T>(
        &self,
        action: impl Into<String>,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, Error> {
        let action = action.into();
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(result) => result.map_err(|e| self.error(action, e)),
            Err(_) => Err(Error::EngineTimeout {
                endpoint: self.endpoint.clone(),
                action,
                seconds: REQUEST_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Maps a bollard error to ours, keeping the engine's words.
    fn error(&self, action: String, error: bollard::errors::Error) -> Error {
        use bollard::errors::Error as B;
        match error {
            B::DockerResponseServerError {
                status_code,
                message,
            } => Error::Engine {
                action,
                status: status_code,
                message,
            },
            B::HyperLegacyError { .. } | B::IOError { .. } | B::SocketNotFoundError(_) => {
                Error::EngineUnreachable {
                    endpoint: self.endpoint.clone(),
                    detail: format!("{action}: {error}"),
                }
            }
            B::RequestTimeoutError => Error::EngineTimeout {
                endpoint: self.endpoint.clone(),
                action,
                seconds: CLIENT_TIMEOUT.as_secs(),
            },
            source => Error::Transport { action, source },
        }
    }
}

/// Whether a bollard error is the engine's 404.
fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[async_trait]
impl ContainerBackend for DockerBackend {
    async fn resolve_image(
        &self,
        reference: &str,
        progress: &dyn ProgressSink,
    ) -> Result<ImageId, Error> {
        self.resolve_image_impl(reference, progress).await
    }

    async fn image_exists(&self, image: &ImageId) -> Result<bool, Error> {
        self.image_exists_impl(image).await
    }

    async fn run_step(&self, step: &StepRun<'_>) -> Result<StepOutput, Error> {
        self.run_step_impl(step).await
    }

    async fn read_file(
        &self,
        image: &ImageId,
        files: &[NewFile],
        path: &str,
        labels: &Labels,
    ) -> Result<Vec<u8>, Error> {
        self.read_file_impl(image, files, path, labels).await
    }

    async fn remove_session_containers(&self, session: &str) -> Result<(), Error> {
        self.remove_session_containers_impl(session).await
    }

    async fn ensure_network(&self, name: &str, labels: &Labels) -> Result<NetworkInfo, Error> {
        self.ensure_network_impl(name, labels).await
    }

    async fn start_service(&self, run: &ServiceRun<'_>) -> Result<ServiceContainer, Error> {
        self.start_service_impl(run).await
    }

    async fn container_state(&self, id: &str) -> Result<ContainerState, Error> {
        self.container_state_impl(id).await
    }

    async fn container_logs(&self, id: &str, tail: Option<u32>) -> Result<String, Error> {
        self.container_logs_impl(id, tail).await
    }

    async fn exec_in(&self, id: &str, args: &[String]) -> Result<i64, Error> {
        self.exec_in_impl(id, args).await
    }

    async fn stop_container(&self, id: &str, kill: bool) -> Result<(), Error> {
        self.stop_container_impl(id, kill).await
    }
}

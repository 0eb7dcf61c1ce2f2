//! [`ContainerBackend`] on a Docker engine through bollard.
//!
//! The engine here may be as old as API 1.41 (Docker 20.10): the client
//! negotiates its version and sends no field newer than that.

pub use cleanup::ReapReach;

mod archive;
mod cleanup;
mod images;
mod network;
mod reach;
mod relay;
mod services;
mod steps;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use tokio::sync::OnceCell;
use tracing::{Instrument, warn};

use super::{
    ContainerBackend, ContainerState, DEFAULT_RELAY_IMAGE, DEFAULT_REQUEST_TIMEOUT, EngineSettings,
    Error, HostRoute, ImageId, KeptImage, Labels, NetworkInfo, PortStream, ProgressSink,
    Reachability, ServiceContainer, ServiceRun, StepOutput, StepRun,
};
use crate::spec::NewFile;

/// The Docker API version berth uses: Docker 20.10's. Newer engines and
/// Podman 4 serve it too, and berth sends no field newer.
const API_VERSION: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};
/// How long berth waits for an engine to answer its first request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// bollard's own per-request timeout; long waits (a step's command) must fit in it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// How many times a request is sent when the engine answers with a transient failure.
const ATTEMPTS: u32 = 4;
/// The wait before the first retry; each later wait is three times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// A Docker engine, connected on first use.
pub struct DockerBackend {
    client: OnceCell<Docker>,
    endpoint: String,
    request_timeout: Duration,
    /// Orphans removed when this client connected.
    reaped_on_connect: std::sync::Mutex<Reaped>,
    /// How to reach service ports: by checking, or always through a relay.
    reachability: Reachability,
    /// The image of relays and host forwarders.
    relay_image: String,
    /// The networks handed out, by id: what is known of each.
    networks: std::sync::Mutex<std::collections::HashMap<String, Arc<network::NetworkState>>>,
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
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            reaped_on_connect: std::sync::Mutex::new(Reaped::default()),
            reachability: Reachability::Auto,
            relay_image: DEFAULT_RELAY_IMAGE.to_string(),
            networks: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The engine named by `DOCKER_HOST` (or the local socket), talked to as
    /// `engine` says.
    pub fn configured(engine: &EngineSettings) -> DockerBackend {
        DockerBackend {
            request_timeout: engine.timeout,
            reachability: engine.reach,
            relay_image: engine.relay_image.clone(),
            ..DockerBackend::new()
        }
    }

    /// The connected client: on first use, connects and negotiates the API
    /// version, failing within two seconds when no engine answers, and then
    /// removes what berth processes that died (`kill -9`, a crash) left.
    pub async fn client(&self) -> Result<&Docker, Error> {
        self.client.get_or_try_init(|| self.connect()).await
    }

    async fn connect(&self) -> Result<Docker, Error> {
        let endpoint = self.endpoint.clone();
        let unreachable = |detail: String| Error::EngineUnreachable {
            endpoint: endpoint.clone(),
            detail,
        };
        let timed_out = |action: &str, deadline: Duration| Error::EngineTimeout {
            endpoint: endpoint.clone(),
            action: action.into(),
            seconds: deadline.as_secs(),
        };
        // On a unix socket berth speaks API 1.41 outright, and asks no
        // version: Podman answers `/version` from its whole system info,
        // 0.4 s idle and over 2 s while it ran containers for other clients.
        // Other transports negotiate, as bollard does by default.
        let pinned = endpoint.starts_with("unix://");
        let docker = if pinned {
            Docker::connect_with_unix(&endpoint, CLIENT_TIMEOUT.as_secs(), &API_VERSION)
        } else {
            Docker::connect_with_defaults().map(|docker| docker.with_timeout(CLIENT_TIMEOUT))
        }
        .map_err(|e| unreachable(e.to_string()))?;
        // A ping shows within CONNECT_TIMEOUT whether an engine is there at all.
        match tokio::time::timeout(CONNECT_TIMEOUT, docker.ping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => return Err(timed_out("connecting", CONNECT_TIMEOUT)),
        }
        let docker = if pinned {
            docker
        } else {
            match tokio::time::timeout(self.request_timeout, docker.negotiate_version()).await {
                Ok(Ok(docker)) => docker,
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => {
                    return Err(timed_out(
                        "negotiating the API version",
                        self.request_timeout,
                    ));
                }
            }
        };
        let reaped = self.reap_orphans(&docker, ReapReach::default()).await;
        *lock(&self.reaped_on_connect) = reaped;
        Ok(docker)
    }

    /// Removes what berth processes that are gone left: their containers and
    /// the images no exec cache keeps. Returns all this client has removed
    /// since it connected.
    pub async fn remove_orphans(&self, reach: ReapReach) -> Result<Reaped, Error> {
        let now = self.reap_orphans(self.client().await?, reach).await;
        let on_connect = *lock(&self.reaped_on_connect);
        Ok(Reaped {
            containers: now.containers + on_connect.containers,
            images: now.images + on_connect.images,
        })
    }

    /// Sends one short engine request, naming `action` in errors.
    ///
    /// Each attempt has the request deadline. A transient failure (a 409 or
    /// 500 that is not a permanent refusal, see [`Error::is_transient`]) is
    /// sent again after a growing pause, [`ATTEMPTS`] times at most, so
    /// `send` must be safe to repeat.
    async fn request<'a, T, F>(
        &'a self,
        action: impl Into<String>,
        send: impl Fn(&'a Docker) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, bollard::errors::Error>>,
    {
        let docker = self.client().await?;
        self.send(docker, action, send).await
    }

    /// [`Self::request`] on a given client (while connecting, before [`Self::client`] has one).
    async fn send<'d, T, F>(
        &self,
        docker: &'d Docker,
        action: impl Into<String>,
        send: impl Fn(&'d Docker) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, bollard::errors::Error>>,
    {
        let action = action.into();
        let span = tracing::debug_span!("engine request", %action);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        async move {
            loop {
                let result = match tokio::time::timeout(self.request_timeout, send(docker)).await {
                    Ok(result) => result.map_err(|e| self.error(action.clone(), e)),
                    Err(_) => {
                        return Err(Error::EngineTimeout {
                            endpoint: self.endpoint.clone(),
                            action,
                            seconds: self.request_timeout.as_secs(),
                        });
                    }
                };
                match result {
                    Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                        warn!(%action, attempt, error = %e, "the engine failed; trying again");
                        tokio::time::sleep(backoff).await;
                        backoff *= 3;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        }
        .instrument(span)
        .await
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

/// What removing orphans removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    pub containers: usize,
    pub images: usize,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    async fn keep_image(&self, image: &ImageId, kept: &KeptImage) -> Result<ImageId, Error> {
        self.keep_image_impl(image, kept).await
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

    async fn remove_session(&self, session: &str) -> Result<(), Error> {
        self.remove_session_impl(session).await
    }

    async fn default_network(&self, labels: &Labels) -> Result<NetworkInfo, Error> {
        self.default_network_impl(labels).await
    }

    async fn ensure_network(&self, name: &str, labels: &Labels) -> Result<NetworkInfo, Error> {
        self.ensure_network_impl(name, labels).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), Error> {
        self.remove_network_impl(name).await
    }

    async fn check_port(&self, service: &ServiceContainer, port: u16) -> Result<(), Error> {
        self.check_port_impl(service, port).await
    }

    async fn open_port(&self, service: &ServiceContainer, port: u16) -> Result<PortStream, Error> {
        self.open_port_impl(service, port).await
    }

    async fn host_route(&self, network: &str) -> Result<HostRoute, Error> {
        self.host_route_impl(network).await
    }

    async fn start_host_forwarder(
        &self,
        network: &str,
        ports: &[(u16, SocketAddr)],
        labels: &Labels,
    ) -> Result<ServiceContainer, Error> {
        self.start_host_forwarder_impl(network, ports, labels).await
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

    async fn follow_logs(
        &self,
        id: &str,
        line: &(dyn for<'l> Fn(&'l str) + Send + Sync + '_),
    ) -> Result<(), Error> {
        self.follow_logs_impl(id, line).await
    }

    async fn exec_in(&self, id: &str, args: &[String]) -> Result<i64, Error> {
        self.exec_in_impl(id, args).await
    }

    async fn stop_container(&self, id: &str, kill: bool) -> Result<(), Error> {
        self.stop_container_impl(id, kill).await
    }
}

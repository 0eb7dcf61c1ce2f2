//! The container engine behind berth.
//!
//! [`ContainerBackend`] is everything berth needs from an engine; the Docker
//! implementation in [`docker`] is the only code that speaks Docker. Nothing
//! here sees wasm or WIT types.

pub mod docker;
mod error;
mod labels;
mod owner;
pub mod reference;
mod remove_on_drop;
mod settings;

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::spec::{NewFile, RunConfig};

pub use error::Error;
pub(crate) use error::is_exec_failure;
pub use labels::{
    LABEL_DIGEST, LABEL_HOST, LABEL_KIND, LABEL_MANAGED, LABEL_OWNER, LABEL_PID, LABEL_SESSION,
    LABEL_TENANT, Labels,
};
pub use owner::{Owner, OwnerStatus};
pub use remove_on_drop::RemoveOnDrop;
pub use settings::{
    ContainerLimits, DEFAULT_RELAY_IMAGE, DEFAULT_REQUEST_TIMEOUT, EngineSettings, Reachability,
};

/// An engine-specific content id of an image (for Docker, `sha256:...`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ImageId(pub String);

/// One exec step to run to completion.
#[derive(Clone, Debug)]
pub struct StepRun<'a> {
    /// The image (or previous snapshot) the step starts from.
    pub image: &'a ImageId,
    pub args: &'a [String],
    pub config: &'a RunConfig,
    /// Files placed before the command starts.
    pub files: &'a [NewFile],
    /// Labels for the step container and its snapshot.
    pub labels: &'a Labels,
    /// Where the step's bound services are reachable.
    pub network: Option<&'a ServiceNetwork<'a>>,
    /// Whether to keep the filesystem (as a snapshot image) when the step exits 0.
    pub snapshot: bool,
    /// What the container is held to.
    pub limits: &'a ContainerLimits,
}

/// How a container reaches the services it binds.
#[derive(Clone, Debug)]
pub struct ServiceNetwork<'a> {
    /// The network the services are on.
    pub network: &'a str,
    /// `(alias, ip)` host entries: each binding alias to its service's address.
    pub hosts: &'a [(String, String)],
    /// Service containers the container depends on: if one exits first, the
    /// container is stopped and the run fails with [`Error::DependencyExited`].
    pub dependencies: &'a [String],
}

/// A service container to start.
#[derive(Clone, Debug)]
pub struct ServiceRun<'a> {
    pub image: &'a ImageId,
    /// The command; the image's default when `None`.
    pub args: Option<&'a [String]>,
    pub config: &'a RunConfig,
    pub files: &'a [NewFile],
    /// The network it joins, with the host entries of the services it binds.
    pub network: &'a ServiceNetwork<'a>,
    /// Its hostname, which clients map to its address in their host entries.
    pub hostname: &'a str,
    pub labels: &'a Labels,
    /// What the container is held to.
    pub limits: &'a ContainerLimits,
}

/// A network containers join to reach services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkInfo {
    /// The engine's id of the network: what containers join.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A started service container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceContainer {
    pub id: String,
    /// Its address on the service network, where its clients reach it.
    pub ip: String,
    /// The id of that network.
    pub network: String,
}

/// A byte stream both ways: a connection to a service's port.
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// A connection to a port of a service container, however the backend reaches it.
pub type PortStream = Box<dyn Duplex>;

/// How the containers of a network reach a port that berth listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoute {
    /// The address of this host berth listens on.
    pub listen: IpAddr,
    /// Where connections from the network's containers come from; a
    /// listener refuses every other peer.
    pub peers: Vec<IpNet>,
    /// Whether the containers reach `listen` as it is; when not, a
    /// forwarder on the network carries them there
    /// ([`ContainerBackend::start_host_forwarder`]).
    pub direct: bool,
}

/// Whether a container still runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Exited {
        exit_code: i64,
    },
    /// Removed (or never existed).
    Gone,
}

/// What an exec step left behind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The container's filesystem after the step; taken when asked for and it exited 0.
    pub snapshot: Option<ImageId>,
}

/// The name under which an exec cache keeps a snapshot image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptImage {
    /// Names the cache, such as `berth-cache/0123456789ab`.
    pub repository: String,
    /// Names the step, such as its digest.
    pub tag: String,
}

/// Reports progress of long engine work (pulls, steps) to the user.
pub trait ProgressSink: Send + Sync {
    /// Starts a task, such as "pulling busybox".
    fn begin(&self, task: &str) -> Box<dyn ProgressTask>;

    /// Whether the user asked to see what services log (`berth call -v`).
    fn shows_service_logs(&self) -> bool {
        false
    }

    /// One line a service logged.
    fn service_log(&self, _hostname: &str, _line: &str) {}
}

/// One running task of a [`ProgressSink`].
pub trait ProgressTask: Send {
    /// A new status line, such as a layer's download progress.
    fn update(&self, status: &str);
    /// The task ended, with a closing status.
    fn finish(&self, status: &str);
}

/// What berth needs from a container engine.
#[async_trait]
pub trait ContainerBackend: Send + Sync {
    /// Resolves the image that `reference` names to its content id, pulling
    /// it when it is missing. Only a name resolves: never an image id, nor
    /// an id prefix that an engine might take in place of a name.
    async fn resolve_image(
        &self,
        reference: &str,
        progress: &dyn ProgressSink,
    ) -> Result<ImageId, Error>;

    /// Whether the image (for example a cached snapshot) still exists.
    async fn image_exists(&self, image: &ImageId) -> Result<bool, Error>;

    /// Names `image` as kept by an exec cache, so that orphan reaping, which
    /// removes the unnamed images of dead berth processes, leaves it; returns
    /// the image kept. When another process kept the same step under that
    /// name first, its image stays kept (taking the name would leave it
    /// unnamed, after its own session may have ended), `image` is removed,
    /// and the other image is returned.
    async fn keep_image(&self, image: &ImageId, kept: &KeptImage) -> Result<ImageId, Error>;

    /// Runs one exec step to completion and removes its container.
    async fn run_step(&self, step: &StepRun<'_>) -> Result<StepOutput, Error>;

    /// Reads the file at `path` from `image` with `files` written over it.
    async fn read_file(
        &self,
        image: &ImageId,
        files: &[NewFile],
        path: &str,
        labels: &Labels,
    ) -> Result<Vec<u8>, Error>;

    /// Removes every container that carries `berth.session=<session>`, then
    /// the session's snapshot images that no exec cache keeps (untagged: a
    /// step another process cached first under the same name).
    async fn remove_session(&self, session: &str) -> Result<(), Error>;

    /// The engine's own default network, which a container joins fastest;
    /// what berth makes for it (a relay, say) carries `labels`.
    async fn default_network(&self, labels: &Labels) -> Result<NetworkInfo, Error>;

    /// The network called `name`, created (as a bridge) unless it exists;
    /// it and what berth makes for it carry `labels`.
    async fn ensure_network(&self, name: &str, labels: &Labels) -> Result<NetworkInfo, Error>;

    /// Removes the network called `name`; one that is gone already is fine.
    async fn remove_network(&self, name: &str) -> Result<(), Error>;

    /// Checks that `port` of a running service accepts a TCP connection,
    /// asked where only the service itself can answer.
    async fn check_port(&self, service: &ServiceContainer, port: u16) -> Result<(), Error>;

    /// Opens a connection to `port` of a running service, from this process.
    async fn open_port(&self, service: &ServiceContainer, port: u16) -> Result<PortStream, Error>;

    /// How the containers of `network` reach ports this host listens on.
    async fn host_route(&self, network: &str) -> Result<HostRoute, Error>;

    /// Starts a container on `network` that forwards each `(port, listener)`:
    /// connections to its `port` are carried to berth's `listener`. Used
    /// when a [`HostRoute`] is not direct; the caller stops it.
    async fn start_host_forwarder(
        &self,
        network: &str,
        ports: &[(u16, SocketAddr)],
        labels: &Labels,
    ) -> Result<ServiceContainer, Error>;

    /// Creates and starts a long-running service container.
    async fn start_service(&self, run: &ServiceRun<'_>) -> Result<ServiceContainer, Error>;

    /// Whether the container runs, exited (with its code), or is gone.
    async fn container_state(&self, id: &str) -> Result<ContainerState, Error>;

    /// The last `tail` lines (all when `None`) of the container's stdout and stderr.
    async fn container_logs(&self, id: &str, tail: Option<u32>) -> Result<String, Error>;

    /// Passes each line the container logs, from its start on, to `line`
    /// until the container ends.
    async fn follow_logs(
        &self,
        id: &str,
        line: &(dyn for<'l> Fn(&'l str) + Send + Sync + '_),
    ) -> Result<(), Error>;

    /// Runs a command inside a running container and returns its exit code.
    async fn exec_in(&self, id: &str, args: &[String]) -> Result<i64, Error>;

    /// Stops (SIGTERM, then SIGKILL after a few seconds; at once when `kill`) and removes a container.
    async fn stop_container(&self, id: &str, kill: bool) -> Result<(), Error>;
}

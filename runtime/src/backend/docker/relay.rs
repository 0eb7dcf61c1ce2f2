//! Reaching service ports where berth cannot dial container addresses: a
//! relay container on the network, driven by exec, dials for berth.
//!
//! - A port check is `nc -w 1 IP PORT -e true` in the relay: it exits 0 only
//!   when the service's own address on the network accepted the connection.
//! - A connection is `nc IP PORT` in the relay, its stdin and stdout
//!   attached: the engine's API carries the bytes, so it works wherever the
//!   API answers (a remote engine, a VM, another network namespace).
//! - Host services go the other way: a forwarder container listens on the
//!   service's ports and dials berth at an address the relay proved it
//!   reaches.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bollard::container::LogOutput;
use bollard::exec::StartExecResults;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tracing::{debug, instrument};

use super::DockerBackend;
use super::network::NetworkState;
use super::reach::{Reach, host_address_on, interface_addresses, interface_networks};
use super::steps::Create;
use crate::backend::{
    ContainerLimits, Error, HostRoute, LABEL_KIND, Labels, PortStream, Reachability,
    ServiceContainer, ServiceNetwork,
};
use crate::progress::NoProgress;
use crate::spec::RunConfig;

/// Seconds the relay's `nc` waits for a connection to be accepted.
const CONNECT_SECONDS: &str = "1";

impl DockerBackend {
    /// How berth reaches the containers of `network`, decided once per network.
    pub(super) async fn reach(&self, network: &NetworkState) -> Result<Reach, Error> {
        let reach = network
            .reach
            .get_or_try_init(|| async {
                let reach = self.check_reach(network).await?;
                debug!(network = %network.info.name, ?reach, "reaching the network's containers");
                Ok::<_, Error>(reach)
            })
            .await?;
        Ok(*reach)
    }

    /// Directly when this host is on the network (unless relays are asked
    /// for), else through the relay.
    async fn check_reach(&self, network: &NetworkState) -> Result<Reach, Error> {
        if self.reachability == Reachability::Relay {
            return Ok(Reach::Relayed);
        }
        if let Some(host) = host_address_on(&network.subnets, &interface_addresses()) {
            return Ok(Reach::Direct { host });
        }
        // Podman makes a network's bridge when its first container starts:
        // with the relay running, look again.
        self.relay(network).await?;
        Ok(
            match host_address_on(&network.subnets, &interface_addresses()) {
                Some(host) => Reach::Direct { host },
                None => Reach::Relayed,
            },
        )
    }

    #[instrument(skip(self), err(level = "debug"))]
    pub(super) async fn check_port_impl(
        &self,
        service: &ServiceContainer,
        port: u16,
    ) -> Result<(), Error> {
        let network = self.network_state(&service.network)?;
        match self.reach(&network).await? {
            Reach::Direct { .. } => dial(&service.ip, port).await.map(drop),
            Reach::Relayed => {
                let args = [
                    "nc",
                    "-w",
                    CONNECT_SECONDS,
                    &service.ip,
                    &port.to_string(),
                    "-e",
                    "true",
                ];
                let (code, _) = self.relay_run(&network, &args).await?;
                if code == 0 {
                    Ok(())
                } else {
                    Err(refused(&service.ip, port, "from the relay on its network"))
                }
            }
        }
    }

    pub(super) async fn open_port_impl(
        &self,
        service: &ServiceContainer,
        port: u16,
    ) -> Result<PortStream, Error> {
        let network = self.network_state(&service.network)?;
        match self.reach(&network).await? {
            Reach::Direct { .. } => Ok(Box::new(dial(&service.ip, port).await?)),
            Reach::Relayed => {
                let args = ["nc", &service.ip, &port.to_string()];
                let relay = self.relay(&network).await?;
                match self.exec(&relay, &args, true).await?.0 {
                    StartExecResults::Attached { output, input } => {
                        Ok(Box::new(ExecStream::new(output, input)))
                    }
                    StartExecResults::Detached => Err(not_attached()),
                }
            }
        }
    }

    #[instrument(skip(self), err(level = "debug"))]
    pub(super) async fn host_route_impl(&self, network: &str) -> Result<HostRoute, Error> {
        let network = self.network_state(network)?;
        match self.reach(&network).await? {
            Reach::Direct { host } => Ok(HostRoute {
                listen: host,
                peers: network.subnets.clone(),
                direct: true,
            }),
            Reach::Relayed => network
                .host_route
                .get_or_try_init(|| self.relayed_host_route(&network))
                .await
                .cloned(),
        }
    }

    /// Finds which of this host's addresses the network's containers reach:
    /// berth listens on each (a free port apiece) and the relay dials them
    /// all; the first that answers with its own token is the route, and the
    /// peer it saw is the only one a host tunnel will accept.
    async fn relayed_host_route(&self, network: &NetworkState) -> Result<HostRoute, Error> {
        let candidates: Vec<ipnet::IpNet> = interface_networks()
            .into_iter()
            .filter(|net| net.addr().is_ipv4() && !net.addr().is_loopback())
            .collect();
        let mut listeners = Vec::new();
        for candidate in &candidates {
            if let Ok(listener) = tokio::net::TcpListener::bind((candidate.addr(), 0)).await {
                listeners.push((candidate, RouteListener::start(listener)));
            }
        }
        let targets: Vec<String> = listeners.iter().map(|(_, l)| l.local.to_string()).collect();
        // Each line the relay prints: `ADDRESS:PORT TOKEN-IT-READ`.
        let script = format!(
            "for t in \"$@\"; do echo \"$t $(nc -w {CONNECT_SECONDS} \"${{t%:*}}\" \"${{t##*:}}\" </dev/null 2>/dev/null)\"; done"
        );
        let mut args = vec!["sh", "-c", &script, "sh"];
        args.extend(targets.iter().map(String::as_str));
        let (_, output) = self.relay_run(network, &args).await?;
        let answered: Vec<(&ipnet::IpNet, SocketAddr, IpAddr)> = listeners
            .iter()
            .filter(|(_, listener)| {
                let local = listener.local.to_string();
                output.lines().any(|line| {
                    line.split_once(' ') == Some((local.as_str(), listener.token.as_str()))
                })
            })
            .filter_map(|(net, listener)| Some((*net, listener.local, listener.peer()?)))
            .collect();
        // An address whose link the peer sits on beats one it reached by routing.
        let chosen = answered
            .iter()
            .find(|(net, _, peer)| net.trunc().contains(peer))
            .or_else(|| answered.first());
        match chosen {
            Some((net, local, peer)) => Ok(HostRoute {
                listen: local.ip(),
                // On the link, the network's other containers (forwarders)
                // come from its subnet; routed, they come masqueraded as the peer.
                peers: vec![if net.trunc().contains(peer) {
                    net.trunc()
                } else {
                    ipnet::IpNet::from(*peer)
                }],
                direct: false,
            }),
            None => Err(Error::HostUnreachable {
                network: network.info.name.clone(),
                tried: candidates
                    .iter()
                    .map(|net| net.addr().to_string())
                    .collect(),
            }),
        }
    }

    #[instrument(skip(self, labels), err(level = "debug"))]
    pub(super) async fn start_host_forwarder_impl(
        &self,
        network: &str,
        ports: &[(u16, SocketAddr)],
        labels: &Labels,
    ) -> Result<ServiceContainer, Error> {
        let state = self.network_state(network)?;
        let script: String = ports
            .iter()
            .map(|(port, to)| format!("nc -ll -p {port} -e nc {} {} & ", to.ip(), to.port()))
            .chain(std::iter::once("wait".to_string()))
            .collect();
        let (id, ip) = self
            .start_helper(
                &state,
                vec!["sh".into(), "-c".into(), script],
                labels,
                "forwarder",
            )
            .await?;
        Ok(ServiceContainer {
            id,
            ip,
            network: network.to_string(),
        })
    }

    /// The relay container on `network`, started on first need and again
    /// when it is gone.
    async fn relay(&self, network: &NetworkState) -> Result<String, Error> {
        let mut relay = network.relay.lock().await;
        if let Some(id) = relay.as_ref() {
            return Ok(id.clone());
        }
        // Signals do not reach a pid 1 without handlers; it is removed by force.
        let sleep = vec!["sleep".into(), "2147483647".into()];
        let (id, _) = self
            .start_helper(network, sleep, &network.labels, "relay")
            .await?;
        debug!(network = %network.info.name, relay = %id, "relay started");
        *relay = Some(id.clone());
        Ok(id)
    }

    /// Runs `args` in the network's relay; its exit code and stdout. A relay
    /// removed from outside berth is started again, once.
    async fn relay_run(
        &self,
        network: &NetworkState,
        args: &[&str],
    ) -> Result<(i64, String), Error> {
        let relay = self.relay(network).await?;
        let ran = match self.run_in(&relay, args).await {
            Err(e) if e.is_not_found() || e.to_string().contains("is not running") => {
                *network.relay.lock().await = None;
                self.remove_container(&relay).await;
                let relay = self.relay(network).await?;
                self.run_in(&relay, args).await
            }
            other => other,
        };
        ran.map_err(|e| relay_failure(&self.relay_image, e))
    }

    /// The relay image's id, pulled when missing.
    async fn relay_image_id(&self) -> Result<crate::backend::ImageId, Error> {
        self.resolve_image_impl(&self.relay_image, &NoProgress)
            .await
            .map_err(|e| relay_failure(&self.relay_image, e))
    }

    /// Starts a helper container of the relay image running `args` on
    /// `network`, labelled `labels` and `berth.kind=kind`; its id and
    /// address there. A start that fails or is abandoned removes it.
    async fn start_helper(
        &self,
        network: &NetworkState,
        args: Vec<String>,
        labels: &Labels,
        kind: &str,
    ) -> Result<(String, String), Error> {
        let image = self.relay_image_id().await?;
        let labels = labels.with(LABEL_KIND, kind);
        let id = self
            .create(&Create {
                image: &image,
                args: Some(args),
                config: &RunConfig::default(),
                labels: &labels,
                network: Some(&ServiceNetwork {
                    network: &network.info.id,
                    hosts: &[],
                    dependencies: &[],
                }),
                // berth's own helper: the default limits, whoever's network it serves.
                limits: &ContainerLimits::default(),
            })
            .await?;
        let abandoned = self.remove_on_drop(&id);
        let started = async {
            self.request(format!("starting a {kind}"), |docker| {
                docker.start_container(&id, None)
            })
            .await?;
            self.address(&id, &network.info).await
        }
        .await;
        if started.is_err() {
            self.remove_container(&id).await;
        }
        abandoned.disarm();
        Ok((id, started?))
    }
}

/// Dials `ip:port` from this process.
async fn dial(ip: &str, port: u16) -> Result<tokio::net::TcpStream, Error> {
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
    match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect((ip, port))).await {
        Ok(Ok(stream)) => {
            stream
                .set_nodelay(true)
                .map_err(|e| refused(ip, port, &e.to_string()))?;
            Ok(stream)
        }
        Ok(Err(e)) => Err(refused(ip, port, &e.to_string())),
        Err(_) => Err(refused(ip, port, "connect timed out")),
    }
}

fn refused(ip: &str, port: u16, detail: &str) -> Error {
    Error::PortClosed {
        address: format!("{ip}:{port}"),
        detail: detail.to_string(),
    }
}

fn not_attached() -> Error {
    Error::Engine {
        action: "attaching to a relay command".into(),
        status: 0,
        message: "the engine started the command detached".into(),
    }
}

/// A relay failure, with what the relay needs when its image lacks it.
fn relay_failure(image: &str, error: Error) -> Error {
    match error {
        Error::Engine { message, .. } if crate::backend::is_exec_failure(&message) => {
            Error::RelayImage {
                image: image.to_string(),
                message,
            }
        }
        Error::ImageNotFound { message, .. } => Error::RelayImage {
            image: image.to_string(),
            message,
        },
        other => other,
    }
}

/// One listener of the host-route check: it tells each peer its token and
/// remembers who came.
struct RouteListener {
    local: SocketAddr,
    token: String,
    peer: Arc<std::sync::Mutex<Option<IpAddr>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl RouteListener {
    fn start(listener: tokio::net::TcpListener) -> RouteListener {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let token = format!("berth-route-{}", crate::session::random_id());
        let peer = Arc::new(std::sync::Mutex::new(None));
        let (answer, seen) = (token.clone(), peer.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut stream, from)) = listener.accept().await {
                *crate::lock(&seen) = Some(from.ip());
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        RouteListener {
            local,
            token,
            peer,
            accepting,
        }
    }

    fn peer(&self) -> Option<IpAddr> {
        *crate::lock(&self.peer)
    }
}

impl Drop for RouteListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

type ExecOutput = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// An attached exec's stdout and stdin as one connection.
struct ExecStream {
    output: ExecOutput,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    /// What was read from `output` and not yet handed out.
    pending: Bytes,
}

impl ExecStream {
    fn new(output: ExecOutput, input: Pin<Box<dyn AsyncWrite + Send>>) -> ExecStream {
        ExecStream {
            output,
            input,
            pending: Bytes::new(),
        }
    }
}

impl AsyncRead for ExecStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.pending.is_empty() {
            match self.output.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                // The end of the command: the service closed, or never answered.
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(std::io::Error::other(e)));
                }
                Poll::Ready(Some(Ok(LogOutput::StdOut { message }))) => self.pending = message,
                Poll::Ready(Some(Ok(LogOutput::StdErr { message }))) => {
                    debug!(message = %String::from_utf8_lossy(&message).trim(), "relay");
                }
                Poll::Ready(Some(Ok(_))) => {}
            }
        }
        let n = self.pending.len().min(buf.remaining());
        let chunk = self.pending.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ExecStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.input.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.input.as_mut().poll_flush(cx)
    }

    /// Closes the command's stdin, which `nc` passes on as a half-close.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.input.as_mut().poll_shutdown(cx)
    }
}

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::debug;

use crate::backend::{ContainerBackend, PortStream, ServiceContainer};

/// A TCP listener that forwards every connection to a target.
///
/// Each connection is copied both ways until both sides are done; a side that
/// closes its writing half (half-close) is passed on, and a side that drops
/// ends only its own connection. Dropping the tunnel closes the listener and
/// every connection it carries.
pub struct Tunnel {
    local: SocketAddr,
    target_port: u16,
    accepting: tokio::task::JoinHandle<()>,
}

/// Where a tunnel carries each connection.
#[derive(Clone)]
pub enum Target {
    /// A port this host dials itself (a host service).
    Host { host: String, port: u16 },
    /// A port of a service container, reached however its backend reaches it.
    Service {
        backend: Arc<dyn ContainerBackend>,
        container: ServiceContainer,
        port: u16,
    },
}

impl Target {
    /// `host:port`, dialled from this process.
    pub fn host(host: &str, port: u16) -> Target {
        Target::Host {
            host: host.to_string(),
            port,
        }
    }

    fn port(&self) -> u16 {
        match self {
            Target::Host { port, .. } | Target::Service { port, .. } => *port,
        }
    }

    async fn connect(&self) -> io::Result<PortStream> {
        match self {
            Target::Host { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
            Target::Service {
                backend,
                container,
                port,
            } => backend
                .open_port(container, *port)
                .await
                .map_err(io::Error::other),
        }
    }
}

/// The peers a tunnel accepts connections from.
#[derive(Clone, Debug)]
pub struct Peers(Option<Vec<IpNet>>);

impl Peers {
    /// Every peer (the host's own users, for `up`, which binds where it is told).
    pub fn any() -> Peers {
        Peers(None)
    }

    /// Only peers inside `networks` (the containers of one network).
    pub fn within(networks: &[IpNet]) -> Peers {
        Peers(Some(networks.to_vec()))
    }

    fn admit(&self, peer: IpAddr) -> bool {
        // An IPv4 peer of a dual-stack listener arrives IPv4-mapped.
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.0
            .as_ref()
            .is_none_or(|networks| networks.iter().any(|n| n.contains(&peer)))
    }
}

impl Tunnel {
    /// Listens on `listen` (port 0 picks a free one) and forwards to `target`.
    pub async fn open(listen: SocketAddr, target: Target, peers: Peers) -> io::Result<Tunnel> {
        Tunnel::serve(TcpListener::bind(listen).await?, target, peers)
    }

    /// Forwards connections of a bound listener to `target`.
    pub fn from_listener(
        listener: std::net::TcpListener,
        target: Target,
        peers: Peers,
    ) -> io::Result<Tunnel> {
        listener.set_nonblocking(true)?;
        Tunnel::serve(TcpListener::from_std(listener)?, target, peers)
    }

    fn serve(listener: TcpListener, target: Target, peers: Peers) -> io::Result<Tunnel> {
        let local = listener.local_addr()?;
        let target_port = target.port();
        let accepting = tokio::spawn(accept(listener, target, peers));
        Ok(Tunnel {
            local,
            target_port,
            accepting,
        })
    }

    /// The address the tunnel listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The port connections are forwarded to.
    pub fn target_port(&self) -> u16 {
        self.target_port
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, target: Target, peers: Peers) {
    // Dropping the set (when this task is aborted) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((inbound, peer)) if !peers.admit(peer.ip()) => {
                    debug!(%peer, "refused a tunnel connection from outside its network");
                    drop(inbound);
                }
                Ok((inbound, peer)) => {
                    let target = target.clone();
                    connections.spawn(async move {
                        if let Err(e) = forward(inbound, &target).await {
                            debug!(%peer, error = %e, "tunnel connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors, for example: back off instead of spinning.
                    debug!(error = %e, "tunnel accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes copied per read in each direction; larger than tokio's 8 KiB default for bulk transfers.
const BUFFER: usize = 64 * 1024;

async fn forward(mut inbound: TcpStream, target: &Target) -> io::Result<()> {
    let mut outbound = target.connect().await?;
    inbound.set_nodelay(true)?;
    tokio::io::copy_bidirectional_with_sizes(&mut inbound, &mut outbound, BUFFER, BUFFER).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn open_to(server: SocketAddr) -> io::Result<Tunnel> {
        let listen = "127.0.0.1:0".parse().unwrap();
        Tunnel::open(
            listen,
            Target::host("127.0.0.1", server.port()),
            Peers::any(),
        )
        .await
    }

    #[tokio::test]
    async fn a_peer_outside_the_networks_is_refused() {
        let server = echo_after_eof().await;
        let listen = "127.0.0.1:0".parse().unwrap();
        let elsewhere = Peers::within(&["10.99.0.0/16".parse().unwrap()]);
        let tunnel = Tunnel::open(listen, Target::host("127.0.0.1", server.port()), elsewhere)
            .await
            .unwrap();
        let mut client = TcpStream::connect(tunnel.local_addr()).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = client.read_to_end(&mut answer).await;
        assert!(answer.is_empty(), "a refused peer gets nothing back");
        assert!(
            Peers::within(&["127.0.0.0/8".parse().unwrap()]).admit("127.0.0.1".parse().unwrap())
        );
        assert!(
            Peers::within(&["127.0.0.0/8".parse().unwrap()])
                .admit("::ffff:127.0.0.1".parse().unwrap())
        );
    }

    /// An echo server that answers after the client half-closes.
    async fn echo_after_eof() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut received = Vec::new();
                    stream.read_to_end(&mut received).await.unwrap();
                    stream.write_all(&received).await.unwrap();
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_half_closed_request_still_gets_its_answer() {
        let server = echo_after_eof().await;
        let tunnel = open_to(server).await.unwrap();
        let mut client = TcpStream::connect(tunnel.local_addr()).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"ping");
    }

    /// A server that sends 64 MiB to every client.
    async fn firehose() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let chunk = vec![7u8; 1 << 20];
                    for _ in 0..64 {
                        if stream.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_client_leaving_mid_transfer_leaves_the_tunnel_serving() {
        let server = firehose().await;
        let tunnel = open_to(server).await.unwrap();
        let mut quitter = TcpStream::connect(tunnel.local_addr()).await.unwrap();
        let mut some = vec![0u8; 1 << 16];
        quitter.read_exact(&mut some).await.unwrap();
        drop(quitter);
        let mut stayer = TcpStream::connect(tunnel.local_addr()).await.unwrap();
        let mut all = Vec::new();
        stayer.read_to_end(&mut all).await.unwrap();
        assert_eq!(all.len(), 64 << 20);
    }

    #[tokio::test]
    async fn a_dropped_tunnel_stops_listening() {
        let server = echo_after_eof().await;
        let tunnel = open_to(server).await.unwrap();
        let addr = tunnel.local_addr();
        drop(tunnel);
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let result = Tunnel::open(
            taken.local_addr().unwrap(),
            Target::host("127.0.0.1", 1),
            Peers::any(),
        )
        .await;
        assert_eq!(
            result.err().map(|e| e.kind()),
            Some(io::ErrorKind::AddrInUse)
        );
    }
}

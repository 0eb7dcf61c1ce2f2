//! What the benches share: a session on the real engine, and the output format.

#![allow(dead_code)] // each bench uses a different part of this module

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::backend::docker::DockerBackend;
use berth::pipeline::{Evaluator, ExecCache};
use berth::policy::Policy;
use berth::progress::NoProgress;
use berth::services::ServiceManager;
use berth::session::Session;
use berth::spec::{ContainerSpec, ExposedPort, Op, Protocol, ServiceSpec};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::RemoveContainerOptions;

/// A session with its own exec cache, and the services that run in it.
pub struct BenchSession {
    /// Kept so the cache outlives the bench.
    pub cache: tempfile::TempDir,
    pub backend: Arc<DockerBackend>,
    pub session: Arc<Session>,
    pub services: Arc<ServiceManager>,
}

impl BenchSession {
    /// A session under the repository's berth.toml, as the CLI runs from
    /// the repository root: its rewrite maps `busybox` (the relay image too)
    /// to the local image.
    pub fn new() -> BenchSession {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../berth.toml");
        let policy = Policy::load(Some(std::path::Path::new(config))).expect("berth.toml");
        let cache = tempfile::tempdir().expect("cache dir");
        let backend = Arc::new(DockerBackend::configured(&policy.engine));
        let session =
            Arc::new(Session::new(backend.clone()).with_limits(policy.containers.clone()));
        let evaluator = Evaluator::new(
            session.clone(),
            policy.images.clone(),
            ExecCache::new(cache.path().join("exec")),
            Arc::new(NoProgress),
        );
        let services = ServiceManager::new(Arc::new(evaluator), policy.services.clone());
        BenchSession {
            cache,
            backend,
            session,
            services,
        }
    }
}

/// How long berth takes from asking for a service of `image` running
/// `command` with `port` exposed to holding it healthy; the service is
/// stopped after. `round` goes into its environment, so each round's
/// service is a new one.
pub async fn berth_start(
    bench: &BenchSession,
    image: &str,
    command: &[&str],
    port: u16,
    round: usize,
) -> Duration {
    let service = ServiceSpec::container(
        ContainerSpec::new(image)
            .with(Op::EnvVariable {
                name: "ROUND".into(),
                value: round.to_string(),
            })
            .with(Op::ExposedPort(ExposedPort {
                number: port,
                protocol: Protocol::Tcp,
                description: None,
            }))
            .with(Op::Exec(args(command))),
        None,
    );
    let started = Instant::now();
    let lease = bench
        .services
        .acquire(&service)
        .await
        .expect("service starts");
    let elapsed = started.elapsed();
    drop(lease);
    bench
        .services
        .stop(&service, true)
        .await
        .expect("service stops");
    elapsed
}

/// One measurement as `name, reference (or -), samples in ms...`, tab-separated,
/// the format `cargo xtask bench` reads.
pub fn report(name: &str, reference: Option<&str>, samples: &[Duration]) {
    let millis: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.4}", d.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "{name}\t{}\t{}",
        reference.unwrap_or("-"),
        millis.join("\t")
    );
}

/// Gives rustls its crypto provider. reqwest is built without a default one
/// (berth's OCI client picks ring), and testcontainers' and the serve
/// bench's HTTP clients share that build.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A figure that is not a time (a rate, a count per GiB), as
/// `figure, name, value, unit`, tab-separated.
pub fn figure(name: &str, value: f64, unit: &str) {
    println!("figure\t{name}\t{value:.1}\t{unit}");
}

/// Resident memory of this process, in bytes (Linux).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Words as the argument list of an exec.
pub fn args(words: &[&str]) -> Arc<[String]> {
    words
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .into()
}

/// What plain Docker does to run a server: create and start the container
/// with bollard on `network` (the default bridge when `None`), then poll TCP
/// `port` on its address from the host, as `docker run -d` plus a port wait
/// would, without any CLI in between. Returns the container and its address.
pub async fn plain_start(
    docker: &Docker,
    image: &str,
    command: &[String],
    network: Option<&str>,
    port: u16,
) -> (String, String) {
    let body = ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(command.to_vec()),
        host_config: network.map(|network| HostConfig {
            network_mode: Some(network.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = create_and_start(docker, body).await;
    let inspected = docker.inspect_container(&id, None).await.expect("inspect");
    let ip = inspected
        .network_settings
        .and_then(|s| s.networks)
        .and_then(|n| {
            n.get(network.unwrap_or("bridge"))
                .and_then(|e| e.ip_address.clone())
        })
        .expect("an address on the network");
    wait_tcp(&ip, port).await;
    (id, ip)
}

/// Creates and starts a container with bollard; returns its id.
pub async fn create_and_start(docker: &Docker, body: ContainerCreateBody) -> String {
    let id = docker
        .create_container(None, body)
        .await
        .expect("create")
        .id;
    docker.start_container(&id, None).await.expect("start");
    id
}

/// Polls until `ip:port` accepts a connection: every 10 ms at first, backing off to 250 ms.
pub async fn wait_tcp(ip: &str, port: u16) {
    let started = Instant::now();
    let mut delay = Duration::from_millis(10);
    while tokio::net::TcpStream::connect((ip, port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{ip}:{port} never answered"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// Force-removes a container made by plain Docker.
pub async fn plain_remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(id, Some(options))
        .await
        .expect("remove");
}

/// With `BERTH_BENCH_TRACE=1`, logs how long each berth span took (every
/// engine request, service start, health wait) to stderr: the profile behind
/// the numbers in BENCHMARKS.md.
pub fn trace_if_asked() {
    if std::env::var_os("BERTH_BENCH_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter("berth=debug")
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .init();
    }
}

/// The user-defined network plain-Docker references run on, as berth's
/// services do on theirs (created once, kept between runs).
pub const PLAIN_NETWORK: &str = "berth-bench-plain";

/// Creates [`PLAIN_NETWORK`] when it does not exist.
pub async fn ensure_plain_network(docker: &Docker) {
    let exists = docker
        .inspect_network(
            PLAIN_NETWORK,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .is_ok();
    if !exists {
        docker
            .create_network(NetworkCreateRequest {
                name: PLAIN_NETWORK.into(),
                driver: Some("bridge".into()),
                ..Default::default()
            })
            .await
            .expect("network");
    }
}

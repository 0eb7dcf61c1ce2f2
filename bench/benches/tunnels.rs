//! Throughput and latency through an `up` tunnel, against `docker run -p`
//! port publishing of the same container.
//!
//! Run through `cargo xtask bench`. Prints one tab-separated line per
//! measurement: name, reference name (or `-`), then every sample in milliseconds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use berth::backend::docker::DockerBackend;
use berth::net::{PortMapping, publish};
use berth::spec::{ContainerSpec, ExposedPort, Op, Protocol, ServiceSpec};
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BUSYBOX: &str = "berth.local/busybox:latest";
const MEGABYTES: u64 = 50;
const TRANSFERS: usize = 5;
const REQUESTS: usize = 200;
/// Writes the file both set-ups serve.
const PREPARE: &str =
    "mkdir -p /www && head -c 52428800 /dev/zero > /www/big && echo ok > /www/small";

mod support;

use support::{BenchSession, args, create_and_start, plain_remove, report};

fn main() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let BenchSession {
            backend,
            session,
            services,
            ..
        } = BenchSession::new();

        let published = docker_published(&backend).await;
        measure("docker run -p", None, published.1).await;
        plain_remove(backend.client().await.expect("engine"), &published.0).await;

        let service = ServiceSpec::container(
            ContainerSpec::new(BUSYBOX)
                .with(Op::Exec(args(&["sh", "-c", PREPARE])))
                .with(Op::ExposedPort(ExposedPort {
                    number: 8080,
                    protocol: Protocol::Tcp,
                    description: None,
                }))
                .with(Op::Exec(args(&["httpd", "-f", "-p", "8080", "-h", "/www"]))),
            None,
        );
        let mapping = [PortMapping {
            frontend: 0,
            backend: 8080,
        }];
        let publication = publish(
            &services,
            &service,
            &mapping,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
        .await
        .expect("published");
        let (address, _) = publication.tunnels().next().expect("a tunnel");
        measure("berth up tunnel", Some("docker run -p"), address).await;
        drop(publication);
        session.end().await.expect("session ends");
    });
}

async fn measure(name: &str, reference: Option<&str>, address: SocketAddr) {
    let mut transfers = Vec::new();
    for _ in 0..TRANSFERS {
        let started = Instant::now();
        let body = get(address, "/big").await;
        assert_eq!(body as u64, MEGABYTES << 20);
        transfers.push(started.elapsed());
    }
    let mut requests = Vec::new();
    for _ in 0..REQUESTS {
        let started = Instant::now();
        get(address, "/small").await;
        requests.push(started.elapsed());
    }
    let reference_of = |what: &str| reference.map(|r| format!("{r}: {what}"));
    report(
        &format!("{name}: {MEGABYTES} MB download"),
        reference_of(&format!("{MEGABYTES} MB download")).as_deref(),
        &transfers,
    );
    report(
        &format!("{name}: small HTTP request"),
        reference_of("small HTTP request").as_deref(),
        &requests,
    );
}

/// GETs a path over HTTP/1.0 and returns the size of the whole answer's body.
async fn get(address: SocketAddr, path: &str) -> usize {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    let head = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer")
        + 4;
    answer.len() - head
}

/// The same httpd container, published with `-p 127.0.0.1::8080`.
async fn docker_published(backend: &DockerBackend) -> (String, SocketAddr) {
    let docker = backend.client().await.expect("engine");
    let script = format!("{PREPARE} && exec httpd -f -p 8080 -h /www");
    let body = ContainerCreateBody {
        image: Some(BUSYBOX.into()),
        cmd: Some(vec!["sh".into(), "-c".into(), script]),
        exposed_ports: Some(vec!["8080/tcp".into()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_string(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = create_and_start(docker, body).await;
    let inspected = docker.inspect_container(&id, None).await.expect("inspect");
    let port: u16 = inspected
        .network_settings
        .and_then(|s| s.ports)
        .and_then(|ports| ports.get("8080/tcp").cloned().flatten())
        .and_then(|bindings| bindings.first().and_then(|b| b.host_port.clone()))
        .and_then(|port| port.parse().ok())
        .expect("a published port");
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    // Ready once the file is written and httpd answers.
    let started = Instant::now();
    loop {
        if let Ok(mut stream) = TcpStream::connect(address).await
            && stream
                .write_all(b"GET /small HTTP/1.0\r\n\r\n")
                .await
                .is_ok()
        {
            let mut answer = Vec::new();
            if stream.read_to_end(&mut answer).await.is_ok() && answer.get(9..12) == Some(b"200") {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "httpd never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (id, address)
}

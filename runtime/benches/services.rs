//! Service start-to-healthy against a plain bollard start plus TCP poll, and
//! concurrent clients of one service.
//!
//! Run through `cargo xtask bench` (it builds the images). Prints one
//! tab-separated line per measurement: name, reference name (or `-`), then
//! every sample in milliseconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::backend::docker::DockerBackend;
use berth::spec::{ContainerSpec, ExposedPort, NewFile, Op, Protocol, ServiceSpec};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::RemoveContainerOptions;

const PYTHON: &str = "berth.local/python:latest";
const ROUNDS: usize = 7;

mod support;

use support::{BenchSession, report};

fn main() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let BenchSession {
            backend,
            session,
            services,
            ..
        } = BenchSession::new();

        let floor = plain_start_to_healthy(&backend).await;
        report(
            "python http.server start to healthy: bollard create+start+TCP poll",
            None,
            &floor,
        );
        let mut berth = Vec::new();
        for round in 0..ROUNDS {
            let spec = http_service(&format!("start-{round}"));
            let started = Instant::now();
            let lease = services.acquire(&spec).await.expect("service starts");
            berth.push(started.elapsed());
            drop(lease);
            services.stop(&spec, true).await.expect("service stops");
        }
        report(
            "python http.server start to healthy: berth",
            Some("python http.server start to healthy: bollard create+start+TCP poll"),
            &berth,
        );

        let mut one_client = None;
        for clients in [1usize, 10, 50] {
            let mut samples = Vec::new();
            for round in 0..3 {
                let spec = http_service(&format!("clients-{clients}-{round}"));
                let containers: Vec<ContainerSpec> = (0..clients)
                    .map(|n| client(&spec, &format!("/?round={round}&client={n}")))
                    .collect();
                let started = Instant::now();
                let results = futures_util::future::join_all(
                    containers
                        .iter()
                        .map(|c| services.evaluate(c, berth::pipeline::Want::Output)),
                )
                .await;
                samples.push(started.elapsed());
                for result in results {
                    result
                        .expect("client ran")
                        .successful_exec()
                        .expect("client succeeded");
                }
                services.stop(&spec, true).await.expect("service stops");
            }
            let name =
                format!("{clients} concurrent clients of one service (start included): berth");
            report(&name, one_client.as_deref(), &samples);
            one_client.get_or_insert(name);
        }
        session.end().await.expect("session ends");
    });
}

fn http_service(tag: &str) -> ServiceSpec {
    let container = ContainerSpec::new(PYTHON)
        .with(Op::EnvVariable {
            name: "TAG".into(),
            value: tag.into(),
        })
        .with(Op::NewFile(NewFile {
            path: "/srv/index.html".into(),
            contents: Arc::from(&b"Hello, world!"[..]),
            permissions: 0o644,
        }))
        .with(Op::Workdir("/srv".into()))
        .with(Op::ExposedPort(ExposedPort {
            number: 8080,
            protocol: Protocol::Tcp,
            description: None,
        }))
        .with(Op::Exec(args(&["python3", "-m", "http.server", "8080"])));
    ServiceSpec::container(container, None)
}

fn client(service: &ServiceSpec, path: &str) -> ContainerSpec {
    ContainerSpec::new("berth.local/busybox:latest")
        .with(Op::ServiceBinding {
            alias: "www".into(),
            service: service.clone(),
        })
        .with(Op::Exec(args(&[
            "wget",
            "-qO-",
            &format!("http://www:8080{path}"),
        ])))
}

fn args(words: &[&str]) -> Arc<[String]> {
    words
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .into()
}

/// The floor: create and start the same container with bollard, then poll TCP from the host.
async fn plain_start_to_healthy(backend: &DockerBackend) -> Vec<Duration> {
    let docker = backend.client().await.expect("engine");
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let body = ContainerCreateBody {
            image: Some(PYTHON.into()),
            cmd: Some(vec![
                "python3".into(),
                "-m".into(),
                "http.server".into(),
                "8080".into(),
            ]),
            working_dir: Some("/tmp".into()),
            ..Default::default()
        };
        let started = Instant::now();
        let id = docker
            .create_container(None, body)
            .await
            .expect("create")
            .id;
        docker.start_container(&id, None).await.expect("start");
        let inspected = docker.inspect_container(&id, None).await.expect("inspect");
        let ip = inspected
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|n| n.get("bridge").and_then(|e| e.ip_address.clone()))
            .expect("bridge address");
        let mut delay = Duration::from_millis(10);
        while tokio::net::TcpStream::connect((ip.as_str(), 8080))
            .await
            .is_err()
        {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
        samples.push(started.elapsed());
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        docker
            .remove_container(&id, Some(options))
            .await
            .expect("remove");
    }
    samples
}

//! Service start to healthy, four ways, on the same image and command:
//! berth; plain bollard create, start and TCP poll (the floor for anything on
//! this engine); testcontainers-rs with its HTTP wait; and docker-compose up
//! with a healthcheck. Rounds interleave the four, so drift hits all alike.
//!
//! Run through `cargo xtask bench`. Prints one tab-separated line per
//! measurement: name, reference name (or `-`), then every sample in milliseconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

mod support;

use support::{
    BenchSession, PLAIN_NETWORK, ensure_plain_network, plain_remove, plain_start, report,
};

const ROUNDS: usize = 7;
const PORT: u16 = 8080;

/// A server to start: an image, its command, and the check compose runs inside it.
struct Workload {
    name: &'static str,
    repository: &'static str,
    command: &'static [&'static str],
    compose_check: &'static [&'static str],
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "busybox httpd",
        repository: "berth.local/busybox",
        command: &[
            "sh",
            "-c",
            "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www",
        ],
        compose_check: &[
            "CMD",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "http://127.0.0.1:8080/",
        ],
    },
    Workload {
        name: "python http.server",
        repository: "berth.local/python",
        command: &["python3", "-m", "http.server", "8080"],
        compose_check: &[
            "CMD",
            "python3",
            "-c",
            "import urllib.request as r; r.urlopen('http://127.0.0.1:8080/')",
        ],
    },
];

impl Workload {
    fn image(&self) -> String {
        format!("{}:latest", self.repository)
    }

    fn command(&self) -> Vec<String> {
        self.command.iter().map(|w| w.to_string()).collect()
    }

    fn row(&self, way: &str) -> String {
        format!("{} start to healthy: {way}", self.name)
    }
}

const FLOOR: &str = "bollard create+start+TCP poll";
/// The floor on a user-defined network like berth's, which costs the engine more to attach.
const FLOOR_NETWORK: &str = "bollard create+start+TCP poll, user-defined network";
const BERTH: &str = "berth";
const TESTCONTAINERS: &str = "testcontainers-rs 0.28 (HTTP wait)";
const COMPOSE: &str = "docker-compose 1.29 up + healthcheck";

fn main() {
    support::install_tls_provider();
    support::trace_if_asked();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let bench = BenchSession::new();
        let docker = bench.backend.client().await.expect("engine").clone();
        ensure_plain_network(&docker).await;
        for workload in &WORKLOADS {
            let mut samples: HashMap<&str, Vec<Duration>> = HashMap::new();
            for round in 0..ROUNDS {
                samples
                    .entry(FLOOR)
                    .or_default()
                    .push(floor(&docker, workload, None).await);
                samples
                    .entry(FLOOR_NETWORK)
                    .or_default()
                    .push(floor(&docker, workload, Some(PLAIN_NETWORK)).await);
                samples.entry(BERTH).or_default().push(
                    support::berth_start(&bench, &workload.image(), workload.command, PORT, round)
                        .await,
                );
                samples
                    .entry(TESTCONTAINERS)
                    .or_default()
                    .push(testcontainers(workload).await);
                samples
                    .entry(COMPOSE)
                    .or_default()
                    .push(compose(&docker, workload, round).await);
            }
            let reference = workload.row(FLOOR);
            report(&reference, None, &samples[FLOOR]);
            for way in [FLOOR_NETWORK, BERTH, TESTCONTAINERS, COMPOSE] {
                report(&workload.row(way), Some(&reference), &samples[way]);
            }
        }
        bench.session.end().await.expect("session ends");
    });
}

async fn floor(docker: &Docker, workload: &Workload, network: Option<&str>) -> Duration {
    let started = Instant::now();
    let (id, _) = plain_start(
        docker,
        &workload.image(),
        &workload.command(),
        network,
        PORT,
    )
    .await;
    let elapsed = started.elapsed();
    plain_remove(docker, &id).await;
    elapsed
}

async fn testcontainers(workload: &Workload) -> Duration {
    let wait = HttpWaitStrategy::new("/")
        .with_port(PORT.tcp())
        .with_expected_status_code(200u16);
    let started = Instant::now();
    let container = GenericImage::new(workload.repository, "latest")
        .with_exposed_port(PORT.tcp())
        .with_wait_for(WaitFor::http(wait))
        .with_cmd(workload.command())
        .start()
        .await
        .expect("testcontainers starts the container");
    let elapsed = started.elapsed();
    container.rm().await.expect("testcontainers removes it");
    elapsed
}

/// `docker-compose up -d` of a one-service project whose healthcheck runs
/// every 100 ms, timed until the engine reports the container healthy.
async fn compose(docker: &Docker, workload: &Workload, round: usize) -> Duration {
    let dir = tempfile::tempdir().expect("a project dir");
    let file = dir.path().join("docker-compose.yml");
    let quoted = |words: &[&str]| {
        words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        &file,
        format!(
            "version: '2.4'\nservices:\n  web:\n    image: {}\n    command: [{}]\n    healthcheck:\n      test: [{}]\n      interval: 100ms\n      timeout: 5s\n      retries: 600\n",
            workload.image(),
            quoted(workload.command),
            quoted(workload.compose_check),
        ),
    )
    .expect("compose file");
    let project = format!("berthbench{}{round}", std::process::id());
    let compose = |verb: &[&str]| {
        let status = std::process::Command::new("docker-compose")
            .arg("-p")
            .arg(&project)
            .arg("-f")
            .arg(&file)
            .args(verb)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("docker-compose runs (apt-get install docker-compose)");
        assert!(status.success(), "docker-compose {verb:?} failed");
    };
    let started = Instant::now();
    compose(&["up", "-d"]);
    let id = project_container(docker, &project).await;
    loop {
        let inspected = docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .expect("inspect");
        let status = inspected
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .map(|s| s.to_string());
        if status.as_deref() == Some("healthy") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "compose never got healthy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    compose(&["down", "-t", "0"]);
    elapsed
}

/// The one container of a compose project.
async fn project_container(docker: &Docker, project: &str) -> String {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("com.docker.compose.project={project}")],
    )]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("list");
    containers
        .into_iter()
        .find_map(|c| c.id)
        .expect("compose made a container")
}

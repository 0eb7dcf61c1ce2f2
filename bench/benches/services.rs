//! One service with 1, 10 and 50 concurrent clients, start included: berth
//! against the same work done with plain Docker (bollard: the service on a
//! network, then every client created, started, waited for, read and removed).
//! berth also runs the case it deduplicates: identical clients, one exec.
//!
//! Run through `cargo xtask bench` (it builds the images). Prints one
//! tab-separated line per measurement: name, reference name (or `-`), then
//! every sample in milliseconds.

use std::time::{Duration, Instant};

use berth::pipeline::Want;
use berth::spec::{ContainerSpec, ExposedPort, Op, Protocol, ServiceSpec};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use futures_util::StreamExt;
use futures_util::future::join_all;

mod support;

use support::{
    BenchSession, PLAIN_NETWORK, args, create_and_start, ensure_plain_network, plain_remove,
    plain_start, report,
};

const BUSYBOX: &str = "berth.local/busybox:latest";
const PYTHON: &str = "berth.local/python:latest";
const ROUNDS: usize = 3;
const SERVER: &[&str] = &["python3", "-m", "http.server", "8080"];

fn main() {
    support::trace_if_asked();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let bench = BenchSession::new();
        let docker = bench.backend.client().await.expect("engine").clone();
        ensure_plain_network(&docker).await;
        for clients in [1usize, 10, 50] {
            let mut plain = Vec::new();
            let mut distinct = Vec::new();
            let mut identical = Vec::new();
            for round in 0..ROUNDS {
                plain.push(plain_clients(&docker, clients, round).await);
                distinct.push(berth_clients(&bench, clients, round, true).await);
                identical.push(berth_clients(&bench, clients, round, false).await);
            }
            let reference = format!("{clients} concurrent clients of one service: plain Docker");
            report(&reference, None, &plain);
            report(
                &format!("{clients} concurrent clients of one service: berth"),
                Some(&reference),
                &distinct,
            );
            report(
                &format!("{clients} identical concurrent clients of one service: berth (one exec)"),
                Some(&reference),
                &identical,
            );
        }
        bench.session.end().await.expect("session ends");
    });
}

/// The service and `clients` clients through berth; each client fetches its
/// own path when `distinct`, or all fetch the same one (deduplicated).
async fn berth_clients(
    bench: &BenchSession,
    clients: usize,
    round: usize,
    distinct: bool,
) -> Duration {
    let tag = format!("{}-{round}-{distinct}-{}", clients, std::process::id());
    let service = ServiceSpec::container(
        ContainerSpec::new(PYTHON)
            .with(Op::EnvVariable {
                name: "TAG".into(),
                value: tag,
            })
            .with(Op::ExposedPort(ExposedPort {
                number: 8080,
                protocol: Protocol::Tcp,
                description: None,
            }))
            .with(Op::Exec(args(SERVER))),
        None,
    );
    let containers: Vec<ContainerSpec> = (0..clients)
        .map(|n| {
            let path = if distinct {
                format!("/?client={n}")
            } else {
                "/".into()
            };
            ContainerSpec::new(BUSYBOX)
                .with(Op::ServiceBinding {
                    alias: "www".into(),
                    service: service.clone(),
                })
                .with(Op::Exec(args(&[
                    "wget",
                    "-qO-",
                    &format!("http://www:8080{path}"),
                ])))
        })
        .collect();
    let started = Instant::now();
    let results = join_all(
        containers
            .iter()
            .map(|c| bench.services.evaluate(c, Want::Output)),
    )
    .await;
    let elapsed = started.elapsed();
    for result in results {
        result
            .expect("client ran")
            .successful_exec()
            .expect("client succeeded");
    }
    bench
        .services
        .stop(&service, true)
        .await
        .expect("service stops");
    elapsed
}

/// The same work with plain Docker: the service on a network, polled until it
/// listens, then every client at once, each reaching it under an extra-hosts alias.
async fn plain_clients(docker: &Docker, clients: usize, round: usize) -> Duration {
    let server: Vec<String> = SERVER.iter().map(|w| w.to_string()).collect();
    let started = Instant::now();
    let (service, ip) = plain_start(docker, PYTHON, &server, Some(PLAIN_NETWORK), 8080).await;
    join_all(
        (0..clients).map(|n| plain_client(docker, &ip, format!("/?round={round}&client={n}"))),
    )
    .await;
    let elapsed = started.elapsed();
    plain_remove(docker, &service).await;
    elapsed
}

async fn plain_client(docker: &Docker, service_ip: &str, path: String) {
    let body = ContainerCreateBody {
        image: Some(BUSYBOX.into()),
        cmd: Some(
            ["wget", "-qO-", &format!("http://www:8080{path}")]
                .map(String::from)
                .to_vec(),
        ),
        host_config: Some(HostConfig {
            network_mode: Some(PLAIN_NETWORK.into()),
            extra_hosts: Some(vec![format!("www:{service_ip}")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = create_and_start(docker, body).await;
    let exit = docker.wait_container(&id, None).next().await;
    assert!(
        matches!(exit, Some(Ok(ref r)) if r.status_code == 0),
        "client failed: {exit:?}"
    );
    let logs: Vec<_> = docker
        .logs(
            &id,
            Some(bollard::query_parameters::LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .collect()
        .await;
    assert!(!logs.is_empty(), "the client printed the page");
    plain_remove(docker, &id).await;
}

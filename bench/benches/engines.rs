//! Service start to healthy on the engine at `DOCKER_HOST`, whichever it is:
//! berth against plain bollard doing the least that engine allows.
//!
//! `cargo xtask bench` runs this once per engine the tests use (the local
//! dockerd, a dockerd in its own network namespace, Podman), naming it in
//! `BERTH_BENCH_ENGINE`. Where the engine's container addresses route from
//! here (`BERTH_BENCH_ROUTABLE=1`) the floor polls TCP from here; elsewhere it
//! polls with busybox `nc` run inside the server's container by exec, as any
//! client of such an engine must. Rounds interleave the two ways.
//!
//! Prints one tab-separated line per measurement: name, reference name (or
//! `-`), then every sample in milliseconds.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use futures_util::StreamExt;

mod support;

use support::{BenchSession, create_and_start, plain_remove, report, wait_tcp};

const ROUNDS: usize = 7;
const PORT: u16 = 8080;
const IMAGE: &str = "berth.local/busybox:latest";
const SERVER: &[&str] = &[
    "sh",
    "-c",
    "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www",
];

fn main() {
    support::install_tls_provider();
    support::trace_if_asked();
    let engine = std::env::var("BERTH_BENCH_ENGINE").unwrap_or_else(|_| "local".into());
    let routable = std::env::var_os("BERTH_BENCH_ROUTABLE").is_some();
    let floor_row = format!(
        "{engine} engine: busybox httpd start to healthy: bollard create+start+{}",
        if routable {
            "TCP poll from here"
        } else {
            "nc poll by exec inside"
        }
    );
    let berth_row = format!("{engine} engine: busybox httpd start to healthy: berth");
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let bench = BenchSession::new();
        let docker = bench.backend.client().await.expect("engine").clone();
        let mut floor_samples = Vec::new();
        let mut berth_samples = Vec::new();
        for round in 0..ROUNDS {
            floor_samples.push(floor(&docker, routable).await);
            berth_samples.push(support::berth_start(&bench, IMAGE, SERVER, PORT, round).await);
        }
        report(&floor_row, None, &floor_samples);
        report(&berth_row, Some(&floor_row), &berth_samples);
        bench.session.end().await.expect("session ends");
    });
}

/// Create and start on the engine's default network, then wait for the port
/// as this engine allows: from here, or from inside the container.
async fn floor(docker: &Docker, routable: bool) -> Duration {
    let started = Instant::now();
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(SERVER.iter().map(|w| w.to_string()).collect()),
        ..Default::default()
    };
    let id = create_and_start(docker, body).await;
    if routable {
        wait_tcp(&address(docker, &id).await, PORT).await;
    } else {
        wait_by_exec(docker, &id).await;
    }
    let elapsed = started.elapsed();
    plain_remove(docker, &id).await;
    elapsed
}

/// The container's address on its one network, whatever the engine calls
/// that network (`bridge` on Docker, `podman` on Podman).
async fn address(docker: &Docker, id: &str) -> String {
    let inspected = docker.inspect_container(id, None).await.expect("inspect");
    inspected
        .network_settings
        .and_then(|s| s.networks)
        .and_then(|networks| networks.into_values().find_map(|e| e.ip_address))
        .filter(|ip| !ip.is_empty())
        .expect("an address on the default network")
}

/// Polls `nc` to the port inside the container until it connects: every
/// 10 ms at first, backing off to 250 ms, as the TCP poll does.
async fn wait_by_exec(docker: &Docker, id: &str) {
    let started = Instant::now();
    let mut delay = Duration::from_millis(10);
    let cmd: Vec<String> = vec![
        "nc".into(),
        "-w".into(),
        "1".into(),
        "127.0.0.1".into(),
        PORT.to_string(),
        "-e".into(),
        "true".into(),
    ];
    loop {
        let exec = docker
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd.clone()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("create exec");
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await.expect("start exec")
        {
            while output.next().await.is_some() {}
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .expect("inspect exec")
            .exit_code;
        if code == Some(0) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "port {PORT} never answered inside {id}"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

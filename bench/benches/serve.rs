//! Calls per second through `berth serve` (the release binary): a pure
//! function (hello.hello) and an exec-cache hit (hello.echo of the same
//! message), from 8 clients at once over HTTP/1.1 keep-alive.
//!
//! Prints each call's latency as a row, and the rate as a figure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{figure, report};

const TOKEN: &str = "bench-token-0123456789";
const CLIENTS: usize = 8;
const CALLS_PER_CLIENT: usize = 100;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().expect("scratch dir");
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(
        &tenants,
        format!(
            "[[tenant]]\nname = \"bench\"\ntoken = \"{TOKEN}\"\n[tenant.quota]\ncalls = {CLIENTS}\n"
        ),
    )
    .expect("tenants file");
    let mut server = Command::new(root.join("target/release/berth"))
        .current_dir(&root)
        .env("BERTH_DATA_DIR", dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tenants"])
        .arg(&tenants)
        .stdout(Stdio::piped())
        .spawn()
        .expect("berth serve (run `cargo xtask bench`, which builds it)");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("berth serve says where it listens");
    let url = first
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address")
        .to_string();

    support::install_tls_provider();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let client = reqwest::Client::new();
        let upload = client
            .post(format!("{url}/v1/plugins?name=hello&version=1.0.0"))
            .bearer_auth(TOKEN)
            .body(std::fs::read(root.join("target/plugins/hello.wasm")).expect("hello.wasm"))
            .send()
            .await
            .expect("upload");
        assert!(upload.status().is_success(), "upload: {}", upload.status());
        for (name, function, args) in [
            (
                "berth serve: hello.hello (pure)",
                "hello",
                serde_json::json!({"name": "bench"}),
            ),
            (
                "berth serve: hello.echo (exec-cache hit)",
                "echo",
                serde_json::json!({"msg": "bench"}),
            ),
        ] {
            let call_url = format!("{url}/v1/plugins/hello/functions/{function}");
            // One unmeasured call: loads the plugin, and fills the exec cache.
            call(&client, &call_url, &args).await;
            let started = Instant::now();
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let (client, call_url, args) = (client.clone(), call_url.clone(), args.clone());
                    tokio::spawn(async move {
                        let mut latencies = Vec::new();
                        for _ in 0..CALLS_PER_CLIENT {
                            let sent = Instant::now();
                            call(&client, &call_url, &args).await;
                            latencies.push(sent.elapsed());
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies: Vec<Duration> = Vec::new();
            for client in clients {
                latencies.extend(client.await.expect("client"));
            }
            let elapsed = started.elapsed();
            report(
                &format!("{name}: latency, {CLIENTS} clients at once"),
                None,
                &latencies,
            );
            figure(
                &format!("{name}: calls per second, {CLIENTS} clients at once"),
                latencies.len() as f64 / elapsed.as_secs_f64(),
                "calls/s",
            );
        }
    });
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

/// One call of a function through the server, which must succeed.
async fn call(client: &reqwest::Client, call_url: &str, args: &serde_json::Value) {
    let answer = client
        .post(call_url)
        .bearer_auth(TOKEN)
        .json(args)
        .send()
        .await
        .expect("call");
    assert!(
        answer.status().is_success(),
        "{call_url}: {}",
        answer.status()
    );
    answer.bytes().await.expect("body");
}

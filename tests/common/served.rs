//! `berth serve` as a process, for the tests that drive it through its
//! HTTP API: alpha and beta under the repository's berth.toml, gamma under
//! [`STRICT_POLICY`](super::STRICT_POLICY), plus any tenants a test adds.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use super::engine_proxy::EngineProxy;
use super::{STRICT_POLICY, TestSession, docker, plugin, root};

pub const ALPHA: &str = "alpha-token-0123456789";
pub const BETA: &str = "beta-token-0123456789";
pub const GAMMA: &str = "gamma-token-0123456789";

/// A policy allowing every image and the host services on 127.0.0.1
/// (`config = "open.toml"` in a tenant an `extra` adds), for tests that
/// must get past the allow-lists.
const OPEN_POLICY: &str = r#"
[images]
allow = ["*"]
[images.rewrite]
"busybox" = "berth.local/busybox:latest"
[host]
services = ["127.0.0.1"]
"#;

/// A running `berth serve`, stopped with SIGTERM on drop (and checked to exit 0).
pub struct Served {
    child: Child,
    /// Whether [`Served::stop`] ran.
    stopped: bool,
    pub url: String,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
    pub session: TestSession,
}

impl Served {
    /// Serves alpha, beta and gamma, plus any `extra` tenants file text.
    pub fn start(test: &str, beta_quota: &str, extra: &str) -> Served {
        Served::start_on(test, beta_quota, extra, None)
    }

    /// [`Served::start`] on the engine behind `engine` (the real one when `None`).
    pub fn start_on(
        test: &str,
        beta_quota: &str,
        extra: &str,
        engine: Option<&EngineProxy>,
    ) -> Served {
        // reqwest is built here without a default TLS provider; ring is the one in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let session = TestSession::new(test);
        let dir = tempfile::tempdir_in(root().join("target")).expect("a scratch folder");
        std::fs::write(dir.path().join("strict.toml"), STRICT_POLICY).unwrap();
        std::fs::write(dir.path().join("open.toml"), OPEN_POLICY).unwrap();
        let tenants = format!(
            "[[tenant]]\nname = \"alpha\"\ntoken = \"{ALPHA}\"\n\
             [[tenant]]\nname = \"beta\"\ntoken = \"{BETA}\"\n[tenant.quota]\n{beta_quota}\n\
             [[tenant]]\nname = \"gamma\"\ntoken = \"{GAMMA}\"\nconfig = \"strict.toml\"\n\
             {extra}"
        );
        let tenants_file = dir.path().join("tenants.toml");
        std::fs::write(&tenants_file, tenants).unwrap();
        let mut command = session.berth();
        if let Some(engine) = engine {
            command.env("DOCKER_HOST", engine.docker_host());
        }
        let child = command
            .env("BERTH_DATA_DIR", dir.path().join("data"))
            .arg("serve")
            .arg("--tenants")
            .arg(&tenants_file)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("berth serve starts");
        // Built before anything can fail, so that a failure still stops the server.
        let mut served = Served {
            child,
            stopped: false,
            url: String::new(),
            _dir: dir,
            client,
            session,
        };
        let mut first = String::new();
        BufReader::new(served.child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("berth serve says where it listens");
        served.url = first
            .trim()
            .rsplit(' ')
            .next()
            .expect("berth: serving N tenants on http://ADDR")
            .to_string();
        served
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.url));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::GET, path, token)).await
    }

    /// SIGTERM, then the server must exit 0 within a bound (every tenant's
    /// call deadline here is at most 30 s, and the grace period 5 s more).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let status = loop {
            match self.child.try_wait().expect("berth serve's status") {
                Some(status) => break Some(status),
                None if std::time::Instant::now() > deadline => break None,
                None => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        };
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !std::thread::panicking() {
            let status = status.expect("berth serve exits within 90 s of SIGTERM");
            assert!(status.success(), "berth serve exited with {status}");
        }
    }

    /// Uploads a built plugin that declares it needs busybox.
    pub async fn upload(&self, token: &str, name: &str, version: &str) -> (StatusCode, Value) {
        self.upload_needing(token, name, version, "busybox").await
    }

    /// Uploads a built plugin that declares it needs `images` (comma-separated).
    pub async fn upload_needing(
        &self,
        token: &str,
        name: &str,
        version: &str,
        images: &str,
    ) -> (StatusCode, Value) {
        let body = std::fs::read(plugin(name)).unwrap();
        answer(
            self.request(
                reqwest::Method::POST,
                &format!("/v1/plugins?name={name}&version={version}&images={images}"),
                Some(token),
            )
            .body(body),
        )
        .await
    }

    pub async fn call(
        &self,
        token: &str,
        plugin: &str,
        function: &str,
        args: Value,
    ) -> (StatusCode, Value) {
        answer(
            self.request(
                reqwest::Method::POST,
                &format!("/v1/plugins/{plugin}/functions/{function}"),
                Some(token),
            )
            .json(&args),
        )
        .await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let body = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

pub fn kind(body: &Value) -> &str {
    body["error"]["kind"].as_str().unwrap_or("")
}

/// Asserts an API error: its status, kind, and a part of its message.
pub fn assert_api_error(
    answer: &(StatusCode, Value),
    status: StatusCode,
    expected_kind: &str,
    message: &str,
) {
    let (got, body) = answer;
    assert_eq!((*got, kind(body)), (status, expected_kind), "{body}");
    let text = body["error"]["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{body}");
}

/// The address and hostname of the one service container of `session` on
/// tenant `tenant`'s network.
pub fn service_of(session: &str, tenant: &str) -> (String, String) {
    let (inspected, network) = inspect_service_of(session, tenant);
    let ip = network["IPAddress"].as_str().unwrap().to_string();
    let hostname = inspected["Config"]["Hostname"]
        .as_str()
        .unwrap()
        .to_string();
    (ip, hostname)
}

/// The engine's inspection of the one service container of `session` on
/// tenant `tenant`'s network, and its endpoint there, once it runs.
pub fn inspect_service_of(session: &str, tenant: &str) -> (Value, Value) {
    inspect_running_of_kind(session, tenant, "service")
}

/// The engine's inspection of a running container of kind `kind` (`service`,
/// `step`) of `session` on tenant `tenant`'s network, and its endpoint there.
pub fn inspect_running_of_kind(session: &str, tenant: &str, kind: &str) -> (Value, Value) {
    let prefix = format!("berth-tenant-{tenant}-");
    let label = format!("label=berth.session={session}");
    let kind_label = format!("label=berth.kind={kind}");
    for _ in 0..200 {
        let ids = docker(&["ps", "-q", "--filter", &kind_label, "--filter", &label]);
        for id in ids.lines() {
            let inspected: Value = serde_json::from_str(&docker(&["inspect", id])).unwrap();
            let networks = inspected[0]["NetworkSettings"]["Networks"]
                .as_object()
                .unwrap();
            if let Some((_, network)) = networks.iter().find(|(name, _)| name.starts_with(&prefix))
            {
                let network = network.clone();
                return (inspected[0].clone(), network);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no {kind} container of {tenant} runs");
}

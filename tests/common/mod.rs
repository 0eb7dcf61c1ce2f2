//! What every integration test needs: the real plugins, the real engine, and
//! a session of its own that is checked for leftovers when the test ends.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod engine_proxy;
pub mod served;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_path_buf()
}

/// A plugin built by `cargo xtask build-plugins`.
pub fn plugin(name: &str) -> PathBuf {
    let path = root().join("target/plugins").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// The strict policy that the sandbox tests (CLI) and gamma's tenant (server)
/// run hostile plugins under. The rewrite maps busybox to the local image, as
/// the repository's berth.toml does. The deadline leaves room for three
/// container runs on a loaded 2-core CI machine, where 3 s was once too short.
pub const STRICT_POLICY: &str = r#"
[images]
allow = ["busybox"]
[images.rewrite]
"busybox" = "berth.local/busybox:latest"
[limits]
timeout = "10s"
memory = "32MiB"
resources = 100
containers = 3
services = 1
[containers]
memory = "64MiB"
cpus = 0.5
pids = 64
[host]
up = false
"#;

/// The image of the marker containers that show the event stream caught up;
/// `cargo xtask test` puts it on every engine.
const MARKER_IMAGE: &str = "berth.local/busybox:latest";

/// berth as a library, for tests that drive it in-process: a service manager
/// on the default bridge, whose evaluator runs in `guard`'s session on the
/// real engine under `policy`, with the exec cache in `exec_dir`.
pub fn in_process_services(
    guard: &TestSession,
    policy: &berth::policy::Policy,
    exec_dir: PathBuf,
) -> Arc<berth::services::ServiceManager> {
    let session = Arc::new(
        berth::session::Session::with_id(
            Arc::new(berth::backend::docker::DockerBackend::configured(
                &policy.engine,
            )),
            guard.id.clone(),
        )
        .with_limits(policy.containers.clone()),
    );
    let evaluator = berth::pipeline::Evaluator::new(
        session,
        policy.images.clone(),
        berth::pipeline::ExecCache::new(exec_dir),
        Arc::new(berth::progress::NoProgress),
    );
    berth::services::ServiceManager::new(Arc::new(evaluator), policy.services.clone())
}

/// Held by a test that uses a fixed host port (8080, 8081, 3306), for as long as
/// it runs: the engine suite runs on several engines at once, each its own
/// process, and only one of them may use such a port at a time.
pub fn fixed_host_ports() -> std::fs::File {
    let path = root().join("target/test-inputs/fixed-host-ports.lock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    file.lock().expect("locking the fixed host ports");
    file
}

/// A fresh value for making pipelines nobody ran before.
pub fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
}

/// The `berth.kind` of each creation seen, and a signal for each new one.
type Creations = Arc<(Mutex<Vec<String>>, Condvar)>;

/// One test's session: berth processes run under its label, and dropping it
/// asserts that nothing with that label is left (and removes what is).
pub struct TestSession {
    pub id: String,
    cache_dir: PathBuf,
    /// Whether the exec cache is this session's own, to be removed with it.
    own_cache: bool,
    /// `berth.kind` of every container created under the session, streamed
    /// live by `docker events` (the engine keeps only its last 256 events for
    /// replay, too few when tests run side by side).
    created: Creations,
    /// How many marker containers [`Self::settled_creations`] has made.
    markers_made: Mutex<usize>,
    watcher: Child,
}

impl TestSession {
    pub fn new(test: &str) -> Self {
        let id = format!("test-{test}-{}", nonce());
        let (created, watcher) = watch_creations(&id);
        TestSession {
            id,
            cache_dir: root().join("target/test-cache"),
            own_cache: false,
            created,
            markers_made: Mutex::new(0),
            watcher,
        }
    }

    /// A session with an empty exec cache of its own, so every step really runs.
    pub fn uncached(test: &str) -> Self {
        let mut session = TestSession::new(test);
        session.cache_dir = root().join("target/test-cache-fresh").join(&session.id);
        session.own_cache = true;
        session
    }

    /// A `berth` command in this session, with the repository's berth.toml.
    pub fn berth(&self) -> Command {
        self.wrapped(env!("CARGO_BIN_EXE_berth"), &[])
    }

    /// `program ARGS` in this session's environment, for running berth
    /// under a wrapper such as `unshare` or `nsenter`.
    pub fn wrapped(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(root())
            .env("BERTH_SESSION", &self.id)
            .env("BERTH_CACHE_DIR", &self.cache_dir)
            .env_remove("BERTH_LOG");
        command
    }

    /// Runs `berth ARGS` and returns what it did.
    pub fn run(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().expect("berth runs")
    }

    /// Runs `berth call PLUGIN FUNCTION ARGS` and returns stdout, failing the test on error.
    pub fn call_ok(&self, plugin_name: &str, function: &str, args: &[&str]) -> String {
        let output = self.call(plugin_name, function, args);
        assert!(
            output.status.success(),
            "berth call {plugin_name} {function} {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Runs `berth call PLUGIN FUNCTION ARGS`.
    pub fn call(&self, plugin_name: &str, function: &str, args: &[&str]) -> Output {
        let plugin = plugin(plugin_name);
        let mut all = vec!["call", plugin.to_str().expect("utf-8 path"), function];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Starts `service-probes long-client` (a client bound to a service,
    /// running two minutes) and returns once its client step runs.
    pub fn start_long_call(&self) -> Child {
        let child = self.spawn_call(
            "service-probes",
            "long-client",
            &["--tag", &nonce(), "--seconds", "120"],
        );
        self.wait_for_kind("step");
        child
    }

    /// Starts `berth call PLUGIN FUNCTION ARGS` with stdout and stderr piped.
    pub fn spawn_call(&self, plugin_name: &str, function: &str, args: &[&str]) -> Child {
        let plugin = plugin(plugin_name);
        self.berth()
            .args(["call", plugin.to_str().expect("utf-8 path"), function])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth runs")
    }

    /// Waits (a minute at most) until a container of `kind` runs under this
    /// session, and returns its id.
    pub fn wait_for_kind(&self, kind: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let running = docker(&[
                "ps",
                "-q",
                "--filter",
                &format!("label=berth.session={}", self.id),
                "--filter",
                &format!("label=berth.kind={kind}"),
            ]);
            if let Some(id) = running.lines().find(|l| !l.trim().is_empty()) {
                return id.trim().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {kind} container ever ran"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Containers created under this session since it began (removed ones included).
    pub fn containers_created(&self) -> usize {
        self.settled_creations().len()
    }

    /// Containers of one kind (`service`, `step`, `copy`) created under this session.
    pub fn created_of_kind(&self, kind: &str) -> usize {
        self.settled_creations()
            .iter()
            .filter(|k| *k == kind)
            .count()
    }

    /// The creations so far, once the event stream has caught up: the
    /// engine reports events in order, so when a marker container created
    /// now shows in the stream, every creation before it has too. (Waiting
    /// for a quiet spell instead missed Podman's events under load.)
    fn settled_creations(&self) -> Vec<String> {
        let label = format!("berth.session={}", self.id);
        let marker = docker(&[
            "create",
            "--label",
            &label,
            "--label",
            "berth.kind=marker",
            MARKER_IMAGE,
            "true",
        ]);
        let marker = marker.trim();
        assert!(
            !marker.is_empty(),
            "docker create of a marker container failed"
        );
        let (seen, arrived) = &*self.created;
        let markers = |kinds: &Vec<String>| kinds.iter().filter(|k| *k == "marker").count();
        let wanted = {
            let mut markers_made = lock(&self.markers_made);
            *markers_made += 1;
            *markers_made
        };
        let (kinds, waited) = arrived
            .wait_timeout_while(lock(seen), Duration::from_secs(30), |kinds| {
                markers(kinds) < wanted
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kinds: Vec<String> = kinds.iter().filter(|k| *k != "marker").cloned().collect();
        docker(&["rm", "-f", marker]);
        assert!(
            !waited.timed_out(),
            "the marker container's create event did not arrive within 30 s"
        );
        kinds
    }

    /// Containers, networks and untagged images (snapshots no exec cache
    /// keeps) that carry this session's label now.
    pub fn leftovers(&self) -> Vec<String> {
        let filter = format!("label=berth.session={}", self.id);
        let mut left = Vec::new();
        for (kind, args) in [
            ("container", vec!["ps", "-aq", "--filter", &filter]),
            ("network", vec!["network", "ls", "-q", "--filter", &filter]),
            (
                "image",
                vec![
                    "images",
                    "-q",
                    "--filter",
                    &filter,
                    "--filter",
                    "dangling=true",
                ],
            ),
        ] {
            for id in docker(&args).lines().filter(|l| !l.trim().is_empty()) {
                left.push(format!("{kind} {id}"));
            }
        }
        left
    }

    /// Images that carry this session's label (exec-cache snapshots among them).
    pub fn images(&self) -> Vec<String> {
        let filter = format!("label=berth.session={}", self.id);
        docker(&["images", "-q", "--filter", &filter])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect()
    }
}

impl Drop for TestSession {
    fn drop(&mut self) {
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
        let left: Vec<String> = self
            .leftovers()
            .into_iter()
            .filter(|entry| !engine_stale_network(entry))
            .collect();
        for entry in &left {
            if let Some((kind, id)) = entry.split_once(' ') {
                match kind {
                    "container" => drop(docker(&["rm", "-f", id])),
                    "image" => drop(docker(&["rmi", id])),
                    _ => drop(docker(&["network", "rm", id])),
                }
            }
        }
        if self.own_cache {
            // Its snapshots are of no use to anyone else.
            for image in self.images() {
                docker(&["rmi", "-f", &image]);
            }
            let _ = std::fs::remove_dir_all(&self.cache_dir);
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "session {} left {left:?}", self.id);
        }
    }
}

/// A network the engine refuses to remove for an endpoint that no container
/// holds. Docker 20.10 can leave one behind after many containers on one
/// network are created and removed at once; berth removed every container
/// and asked for the network (and logs the refusal), so it is the engine's
/// leftover, not berth's. Any network with a container still attached counts.
fn engine_stale_network(entry: &str) -> bool {
    let Some(id) = entry.strip_prefix("network ") else {
        return false;
    };
    if docker(&["network", "inspect", "-f", "{{len .Containers}}", id]).trim() != "0" {
        return false;
    }
    let stale = Command::new("docker")
        .args(["network", "rm", id])
        .output()
        .is_ok_and(|o| {
            !o.status.success()
                && String::from_utf8_lossy(&o.stderr).contains("has active endpoints")
        });
    if stale {
        eprintln!(
            "warning: the engine keeps network {id} for a stale endpoint that no container holds"
        );
    }
    stale
}

/// Streams the `berth.kind` of each container created with the session's label.
fn watch_creations(session: &str) -> (Creations, Child) {
    // From a second back, so nothing between now and the stream's start is missed.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(1))
        .unwrap_or(0);
    let mut watcher = Command::new("docker")
        .args([
            "events",
            "--since",
            &since.to_string(),
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--filter",
            &format!("label=berth.session={session}"),
            "--format",
            "{{index .Actor.Attributes \"berth.kind\"}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events runs");
    let created = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let stdout = watcher.stdout.take().expect("piped stdout");
    let sink = created.clone();
    std::thread::spawn(move || {
        let (kinds, arrived) = &*sink;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lock(kinds).push(line.trim().to_string());
            arrived.notify_all();
        }
    });
    (created, watcher)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the docker CLI and returns its stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the docker CLI against the local dockerd (whatever `DOCKER_HOST`
/// names) and returns its stdout.
pub fn local_docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .env_remove("DOCKER_HOST")
        .args(args)
        .output()
        .expect("docker CLI runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failure that ends with one clear `berth: error:` line and no panic.
pub fn assert_clear_failure(output: &Output, expected: &str) {
    let stderr = stderr(output);
    assert!(
        !output.status.success(),
        "expected failure, got success:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "berth panicked:\n{stderr}");
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("berth: error:"))
        .collect();
    assert_eq!(error_lines.len(), 1, "expected one error line:\n{stderr}");
    assert!(
        error_lines[0].contains(expected),
        "expected `{expected}` in the error line:\n{stderr}"
    );
}

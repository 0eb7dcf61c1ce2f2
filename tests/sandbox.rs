//! The sandbox, through the CLI: plugins/hostile attacks each boundary under
//! a strict berth.toml, and each attack ends in its own clear error, with
//! nothing left behind (TestSession checks on drop).

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{STRICT_POLICY, TestSession, assert_clear_failure, nonce, plugin};

fn strict_config() -> PathBuf {
    let dir = common::root().join("target/test-inputs");
    std::fs::create_dir_all(&dir).expect("test input dir");
    let path = dir.join(format!("{}-strict.toml", nonce()));
    std::fs::write(&path, STRICT_POLICY).expect("write the strict config");
    path
}

/// `berth --config STRICT_POLICY call PLUGIN FUNCTION ARGS`.
fn strict_call(session: &TestSession, plugin_name: &str, function: &str, args: &[&str]) -> Output {
    let config = strict_config();
    let plugin = plugin(plugin_name);
    session
        .berth()
        .arg("--config")
        .arg(&config)
        .args(["call", plugin.to_str().unwrap(), function])
        .args(args)
        .output()
        .expect("berth runs")
}

fn hostile(session: &TestSession, function: &str, args: &[&str]) -> Output {
    strict_call(session, "hostile", function, args)
}

#[test]
fn guest_code_that_never_returns_is_stopped_at_the_deadline() {
    let session = TestSession::new("sandbox-spin");
    let started = std::time::Instant::now();
    let output = hostile(&session, "spin", &[]);
    assert_clear_failure(
        &output,
        "`spin` did not finish within 10s ([limits] timeout in berth.toml)",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn memory_beyond_the_limit_is_refused() {
    let session = TestSession::new("sandbox-memory");
    let output = hostile(&session, "grow-memory", &[]);
    assert_clear_failure(
        &output,
        "`grow-memory` tried to grow its memory past 32 MiB ([limits] memory in berth.toml)",
    );
}

#[test]
fn resource_handles_beyond_the_limit_are_refused() {
    let session = TestSession::new("sandbox-handles");
    assert_eq!(
        hostile(&session, "many-handles", &["--count", "50"]).stdout,
        b"50\n"
    );
    let output = hostile(&session, "many-handles", &["--count", "1000"]);
    assert_clear_failure(
        &output,
        "`many-handles` held more than 100 resource handles at once ([limits] resources in berth.toml)",
    );
}

#[test]
fn an_image_outside_the_allow_list_is_refused_before_the_engine_sees_it() {
    let session = TestSession::new("sandbox-image");
    let output = hostile(&session, "run-image", &["--image", "alpine"]);
    assert_clear_failure(
        &output,
        "not-allowed: image `alpine` is not allowed: berth.toml [images] allow is [busybox]",
    );
    assert_eq!(session.containers_created(), 0);
    let allowed = hostile(&session, "run-image", &["--image", "busybox"]);
    assert_eq!(String::from_utf8_lossy(&allowed.stdout), "hi\n");
}

#[test]
fn the_plugin_gets_no_files_environment_or_sockets() {
    let session = TestSession::new("sandbox-wasi");
    let read = hostile(&session, "read-host-file", &["--path", "/etc/passwd"]);
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        "err(\"No such file or directory (os error 44)\")\n"
    );
    let environment = session
        .berth()
        .env("BERTH_SECRET", "do-not-leak")
        .args(["call", plugin("hostile").to_str().unwrap(), "environment"])
        .output()
        .expect("berth runs");
    assert_eq!(String::from_utf8_lossy(&environment.stdout), "[]\n");
    // A listener that is really there: the refusal is the sandbox's, not a closed port's.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let socket = hostile(&session, "open-socket", &["--address", &address]);
    assert_eq!(
        String::from_utf8_lossy(&socket.stdout),
        "err(\"Permission denied (os error 2)\")\n"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing connected");
}

#[test]
fn containers_beyond_the_cap_are_refused_and_the_ones_started_are_removed() {
    let session = TestSession::new("sandbox-containers");
    let output = hostile(
        &session,
        "many-containers",
        &["--tag", &nonce(), "--count", "5"],
    );
    assert_clear_failure(
        &output,
        "limit-exceeded: this call may start at most 3 containers ([limits] containers in berth.toml)",
    );
    assert_eq!(session.created_of_kind("step"), 3);
}

#[test]
fn services_beyond_the_cap_are_refused() {
    let session = TestSession::new("sandbox-services");
    let output = hostile(
        &session,
        "many-services",
        &["--tag", &nonce(), "--count", "2"],
    );
    assert_clear_failure(
        &output,
        "limit-exceeded: this call may start at most 1 services ([limits] services in berth.toml)",
    );
    assert_eq!(session.created_of_kind("service"), 1);
}

#[test]
fn host_services_reach_only_the_hosts_the_policy_lists() {
    let session = TestSession::new("sandbox-host");
    let output = hostile(
        &session,
        "reach-host",
        &["--host", "10.0.0.1", "--port", "80"],
    );
    assert_clear_failure(
        &output,
        "not-allowed: host.service may not reach `10.0.0.1`: berth.toml [host] services allows localhost, 127.0.0.1, ::1",
    );
    let local = hostile(
        &session,
        "reach-host",
        &["--host", "localhost", "--port", "3306"],
    );
    assert!(local.status.success(), "{}", common::stderr(&local));
    let directory = hostile(&session, "open-host-directory", &["--path", "/etc"]);
    assert_clear_failure(
        &directory,
        "not-allowed: host directory `/etc` is not under a root granted",
    );
}

#[test]
fn a_trap_with_a_service_running_leaves_nothing() {
    let session = TestSession::new("sandbox-trap");
    let output = hostile(&session, "bind-then-trap", &[]);
    assert_clear_failure(
        &output,
        "`bind-then-trap` trapped: wasm trap: wasm `unreachable` instruction executed",
    );
    assert_eq!(session.created_of_kind("service"), 1);
}

#[test]
fn up_is_refused_before_anything_runs_when_the_policy_forbids_it() {
    let session = TestSession::new("sandbox-up");
    let output = strict_call(&session, "greet-rust", "http-service", &["up"]);
    assert_clear_failure(
        &output,
        "`up` is not allowed: berth.toml sets [host] up = false",
    );
    assert_eq!(session.containers_created(), 0);
}

#[test]
fn containers_run_unprivileged_within_the_container_limits() {
    let session = TestSession::new("sandbox-limits");
    let config = strict_config();
    let mut call = session
        .berth()
        .arg("--config")
        .arg(&config)
        .args([
            "call",
            plugin("hostile").to_str().unwrap(),
            "bind-then-trap",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("berth runs");
    let id = session.wait_for_kind("service");
    let inspected: serde_json::Value =
        serde_json::from_str(&common::docker(&["inspect", &id])).expect("inspect JSON");
    let _ = call.wait();
    let container = &inspected[0];
    let host = &container["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["MemorySwap"], 64 << 20);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["PidsLimit"], 64);
    assert_eq!(host["Privileged"], false);
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert!(host["Binds"].is_null(), "{host}");
    assert!(host["CapAdd"].is_null(), "{host}");
    assert!(
        host["Devices"].as_array().is_none_or(|d| d.is_empty()),
        "{host}"
    );
    assert_eq!(container["Config"]["Labels"]["berth.managed"], "true");
    assert_eq!(
        container["Config"]["Labels"]["berth.session"],
        session.id.as_str()
    );
}

/// A granted root (with a file, a folder, and a link that stays inside),
/// a secret beside it, and a config granting only the root.
struct HostFiles {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl HostFiles {
    fn new() -> HostFiles {
        let dir = tempfile::tempdir_in(common::root().join("target")).expect("a scratch folder");
        let root = dir.path().join("granted");
        std::fs::create_dir_all(root.join("site")).unwrap();
        std::fs::write(root.join("site/index.html"), "hello from the host\n").unwrap();
        std::os::unix::fs::symlink("index.html", root.join("site/home.html")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret\n").unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("leak")).unwrap();
        std::fs::create_dir(root.join("links")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("links/passwd")).unwrap();
        let config = dir.path().join("berth.toml");
        // The root is relative to the config file.
        std::fs::write(
            &config,
            format!("{STRICT_POLICY}directories = [\"granted\"]\n"),
        )
        .unwrap();
        HostFiles { dir, config }
    }

    fn path(&self, relative: &str) -> String {
        format!(
            "{}/{relative}",
            self.dir.path().canonicalize().unwrap().display()
        )
    }

    fn call(
        &self,
        session: &TestSession,
        plugin_name: &str,
        function: &str,
        args: &[&str],
    ) -> Output {
        session
            .berth()
            .arg("--config")
            .arg(&self.config)
            .args(["call", plugin(plugin_name).to_str().unwrap(), function])
            .args(args)
            .output()
            .expect("berth runs")
    }
}

#[test]
fn a_granted_host_directory_is_copied_into_a_container_and_its_contents_name_it() {
    let session = TestSession::new("sandbox-directory");
    let files = HostFiles::new();
    let site = files.path("granted/site");
    let entries = files.call(
        &session,
        "hostile",
        "open-host-directory",
        &["--path", &site],
    );
    assert_eq!(
        String::from_utf8_lossy(&entries.stdout),
        "[\"home.html\", \"index.html\"]\n",
        "{}",
        common::stderr(&entries)
    );

    let first = files.call(
        &session,
        "pipelines",
        "host-directory",
        &["--dir", &site, "--file", "home.html"],
    );
    let first = String::from_utf8(first.stdout).unwrap();
    let (digest, contents) = first.split_once('\n').expect("digest, then contents");
    assert_eq!(contents, "hello from the host\n");
    let again = files.call(
        &session,
        "pipelines",
        "host-directory",
        &["--dir", &site, "--file", "home.html"],
    );
    assert!(String::from_utf8_lossy(&again.stdout).starts_with(digest));

    // The same path with other contents is another container.
    std::fs::write(
        files.dir.path().join("granted/site/index.html"),
        "changed\n",
    )
    .unwrap();
    let changed = files.call(
        &session,
        "pipelines",
        "host-directory",
        &["--dir", &site, "--file", "home.html"],
    );
    let changed = String::from_utf8(changed.stdout).unwrap();
    assert_eq!(changed.split_once('\n').map(|(_, c)| c), Some("changed\n"));
    assert!(
        !changed.starts_with(digest),
        "the digest covers the directory's contents"
    );
}

#[test]
fn host_directories_cannot_be_escaped_by_dot_dot_links_or_other_paths() {
    let session = TestSession::new("sandbox-escape");
    let files = HostFiles::new();
    let open = |path: &str| {
        files.call(
            &session,
            "hostile",
            "open-host-directory",
            &["--path", path],
        )
    };
    let up = files.path("granted/site/../..");
    assert_clear_failure(&open(&up), "leads outside the granted root");
    assert_clear_failure(
        &open(&files.path("granted/leak")),
        "leads outside the granted root",
    );
    assert_clear_failure(
        &open(&files.path("granted/links")),
        "leads outside the granted root",
    );
    assert_clear_failure(
        &open(&files.path("granted")),
        "leads outside the granted root",
    );
    assert_clear_failure(
        &open(&files.path("")),
        "is not under a root granted in berth.toml (granted: ",
    );
    assert_clear_failure(
        &open("/etc"),
        "not-allowed: host directory `/etc` is not under a root granted",
    );
    assert_eq!(session.containers_created(), 0);
}

#[test]
fn a_call_that_times_out_while_containers_run_leaves_nothing() {
    let session = TestSession::new("sandbox-timeout");
    let output = strict_call(
        &session,
        "service-probes",
        "long-client",
        &["--tag", &nonce(), "--seconds", "120"],
    );
    assert_clear_failure(
        &output,
        "`long-client` did not finish within 10s ([limits] timeout in berth.toml)",
    );
    assert_eq!(session.created_of_kind("service"), 1);
    assert_eq!(session.created_of_kind("step"), 1);
}

//! The plugin store: install (file, project, OCI registry), list, inspect,
//! remove, calls by name, version and digest, and the integrity checks,
//! through the CLI, against the real engine and the local registry.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use common::{TestSession, assert_clear_failure, nonce, plugin};

/// The local docker-registry `cargo xtask test` starts.
const REGISTRY: &str = "127.0.0.1:5000";

/// A session whose berth processes share a plugin store of their own.
struct Store {
    session: TestSession,
    data: tempfile::TempDir,
}

impl Store {
    fn new(test: &str) -> Store {
        Store {
            session: TestSession::new(test),
            data: tempfile::tempdir().expect("a temporary data dir"),
        }
    }

    /// Runs berth with this store, Docker's configuration in `docker/` and
    /// credential helpers from `bin/` (both under the store's folder).
    fn run(&self, args: &[&str]) -> Output {
        let path = std::env::var("PATH").unwrap_or_default();
        self.session
            .berth()
            .env("BERTH_DATA_DIR", self.data.path())
            .env("DOCKER_CONFIG", self.data.path().join("docker"))
            .env(
                "PATH",
                format!("{}:{path}", self.data.path().join("bin").display()),
            )
            .args(args)
            .output()
            .expect("berth runs")
    }

    /// Writes Docker's `config.json` for this store's berth runs.
    fn docker_config(&self, json: &str) {
        let dir = self.data.path().join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), json).unwrap();
    }

    /// Runs berth, failing the test unless it succeeds; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("berth {args:?}"))
    }

    /// `berth plugin install` of the built plugin `built` as NAME@VERSION, with `extra` flags.
    fn try_install(&self, built: &str, name: &str, version: &str, extra: &[&str]) -> Output {
        let built = path(built);
        let mut args = vec![
            "plugin",
            "install",
            &built,
            "--name",
            name,
            "--version",
            version,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Installs the built plugin `built` as NAME@VERSION; returns stdout.
    fn install(&self, built: &str, name: &str, version: &str, extra: &[&str]) -> String {
        let what = format!("installing {built} as {name}@{version}");
        succeeded(self.try_install(built, name, version, extra), &what)
    }

    fn inspect(&self, plugin: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["plugin", "inspect", plugin])).expect("inspect prints JSON")
    }

    fn components(&self) -> Vec<PathBuf> {
        let dir = self.data.path().join("plugins/components");
        std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

/// The stdout of a berth run, failing the test unless `what` succeeded.
fn succeeded(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        common::stderr(&output)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn path(name: &str) -> String {
    plugin(name).to_str().expect("utf-8 path").to_string()
}

fn blake3_of(name: &str) -> String {
    let bytes = std::fs::read(plugin(name)).expect("plugin bytes");
    format!("blake3:{}", blake3::hash(&bytes).to_hex())
}

#[test]
fn installed_plugins_are_called_by_name_version_or_digest() {
    let store = Store::new("store-call");
    store.install("hello", "hello", "1.0.0", &[]);
    let installed = store.install(
        "greet-rust",
        "hello",
        "1.1.0",
        &[
            "--description",
            "greets from busybox",
            "--needs-image",
            "busybox",
        ],
    );
    assert_eq!(
        installed,
        format!("installed hello@1.1.0 ({})\n", blake3_of("greet-rust"))
    );

    // A bare name is the highest version; a version or digest prefix pins one.
    assert_eq!(
        store.ok(&["call", "hello", "greet", "--name", "store"]),
        "hello, store\n"
    );
    assert_eq!(
        store.ok(&["call", "hello@1.0.0", "hello", "--name", "store"]),
        "Hello, store!\n"
    );
    let digest = blake3_of("hello");
    let prefix = format!("hello@{}", &digest[..7 + 10]);
    assert_eq!(
        store.ok(&["call", &prefix, "hello", "--name", "d"]),
        "Hello, d!\n"
    );
    assert!(
        store
            .ok(&["functions", "hello@1.0.0"])
            .starts_with("hello: func(name: string) -> string\n")
    );

    let list = store.ok(&["plugin", "list"]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].starts_with("hello") && rows[0].contains("1.0.0"),
        "{list}"
    );
    assert!(
        rows[1].contains("1.1.0") && rows[1].ends_with("greets from busybox"),
        "{list}"
    );

    let manifest = store.inspect("hello@1.1.0");
    assert_eq!(manifest["name"], "hello");
    assert_eq!(manifest["version"], "1.1.0");
    assert_eq!(manifest["digest"], blake3_of("greet-rust"));
    assert_eq!(manifest["needs"]["images"], serde_json::json!(["busybox"]));
    assert_eq!(
        manifest["functions"][0]["wit"],
        "greet: func(name: string) -> result<string, error>"
    );
    let imports = manifest["imports"].as_array().expect("a list of imports");
    assert!(
        imports.iter().any(|i| i == "berth:core/containers@0.1.0"),
        "{imports:?}"
    );

    assert_eq!(
        store.ok(&["plugin", "remove", "hello@1.0.0"]),
        format!("removed hello@1.0.0 ({digest})\n")
    );
    let gone = store.run(&["call", "hello@1.0.0", "hello", "--name", "x"]);
    assert_clear_failure(
        &gone,
        "no plugin hello@1.0.0 is installed (installed: hello@1.1.0)",
    );
    assert_eq!(store.components().len(), 1);
}

#[test]
fn a_component_changed_in_the_store_is_refused_before_anything_runs() {
    let store = Store::new("store-integrity");
    store.install("greet-rust", "greet", "1.0.0", &[]);
    let [component] = store.components().try_into().expect("one stored component");
    let mut bytes = std::fs::read(&component).unwrap();
    bytes.push(0);
    std::fs::write(&component, bytes).unwrap();

    let refused = store.run(&["call", "greet", "greet", "--name", "x"]);
    assert_clear_failure(
        &refused,
        "refusing greet@1.0.0: its stored component has digest",
    );
    assert!(common::stderr(&refused).contains("changed outside berth"));
    assert_eq!(store.session.containers_created(), 0);
    // Pushing it is refused the same way.
    let push = store.run(&[
        "plugin",
        "push",
        "greet",
        &format!("oci://{REGISTRY}/berth-test/tampered"),
    ]);
    assert_clear_failure(&push, "refusing greet@1.0.0");
}

#[test]
fn install_refuses_what_berth_cannot_run_and_stores_nothing() {
    let store = Store::new("store-refuse");
    let foreign = store.run(&["plugin", "install", &path("foreign-import")]);
    assert_clear_failure(&foreign, "which berth does not provide");
    let text = store.data.path().join("notes.wasm");
    std::fs::write(&text, "not wasm").unwrap();
    let not_wasm = store.run(&["plugin", "install", text.to_str().unwrap()]);
    assert_clear_failure(&not_wasm, "is not a WebAssembly file");
    let bad_name = store.run(&["plugin", "install", &path("hello"), "--name", "Hello"]);
    assert_clear_failure(&bad_name, "`Hello` is not a plugin name");
    let not_a_project = store.run(&["plugin", "install", store.data.path().to_str().unwrap()]);
    assert_clear_failure(&not_a_project, "has no berth-plugin.toml");
    assert!(store.components().is_empty());
    assert_eq!(store.ok(&["plugin", "list"]).lines().count(), 1);
}

#[test]
fn an_image_the_policy_refuses_is_warned_of_at_install() {
    let store = Store::new("store-needs");
    let config = store.data.path().join("berth.toml");
    std::fs::write(&config, "[images]\nallow = [\"busybox\"]\n").unwrap();
    let config = config.to_str().unwrap();
    let mut args = vec!["--config", config];
    let built = path("greet-rust");
    args.extend(["plugin", "install", &built, "--needs-image", "alpine:3"]);
    let installed = store.run(&args);
    assert!(installed.status.success(), "{}", common::stderr(&installed));
    assert!(
        common::stderr(&installed).contains(
            "greet-rust@0.0.0 needs an image this berth.toml refuses: image `alpine:3` is not allowed"
        ),
        "{}",
        common::stderr(&installed)
    );
    let quiet = store.run(&[
        "--config",
        config,
        "plugin",
        "install",
        &built,
        "--needs-image",
        "busybox",
    ]);
    assert!(
        quiet.status.success() && common::stderr(&quiet).is_empty(),
        "{}",
        common::stderr(&quiet)
    );
}

#[test]
fn a_version_installed_with_another_component_is_replaced_only_with_force() {
    let store = Store::new("store-force");
    store.install("hello", "tool", "1.0.0", &[]);
    // The same component again is fine (it only updates the manifest).
    store.install("hello", "tool", "1.0.0", &[]);
    let taken = store.try_install("greet-rust", "tool", "1.0.0", &[]);
    assert_clear_failure(
        &taken,
        "tool@1.0.0 is already installed with another component",
    );
    store.install("greet-rust", "tool", "1.0.0", &["--force"]);
    assert_eq!(store.inspect("tool")["digest"], blake3_of("greet-rust"));
    assert_eq!(
        store.components().len(),
        1,
        "the replaced component is removed"
    );
}

#[test]
fn a_pushed_plugin_installs_from_the_registry_with_its_manifest() {
    let store = Store::new("store-oci");
    let repository = format!("{REGISTRY}/berth-test/greet-{}", nonce());
    store.install(
        "greet-rust",
        "greet",
        "1.2.0",
        &["--description", "greets", "--needs-image", "busybox"],
    );
    // Without a tag, the version is the tag.
    let pushed = store.ok(&[
        "plugin",
        "push",
        "greet@1.2.0",
        &format!("oci://{repository}"),
    ]);
    assert_eq!(
        pushed,
        format!("pushed greet@1.2.0 to oci://{repository}:1.2.0\n")
    );

    let (manifest, config) = artifact(&format!("{repository}:1.2.0"));
    assert_eq!(
        manifest.config.media_type,
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].media_type, "application/wasm");
    let annotations = manifest.annotations.expect("berth's annotations");
    assert_eq!(annotations["org.opencontainers.image.title"], "greet");
    assert_eq!(annotations["org.opencontainers.image.version"], "1.2.0");
    assert_eq!(
        annotations["dev.berth.plugin.digest"],
        blake3_of("greet-rust")
    );
    let config: serde_json::Value = serde_json::from_str(&config).expect("config JSON");
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(
        config["layerDigests"][0],
        serde_json::json!(manifest.layers[0].digest)
    );
    assert_eq!(
        config["component"]["exports"],
        serde_json::json!(["greet", "http-service"])
    );

    store.ok(&["plugin", "remove", "greet"]);
    let installed = store.ok(&["plugin", "install", &format!("oci://{repository}:1.2.0")]);
    assert_eq!(
        installed,
        format!("installed greet@1.2.0 ({})\n", blake3_of("greet-rust"))
    );
    let stored = store.inspect("greet");
    assert_eq!(stored["description"], "greets");
    assert_eq!(stored["needs"]["images"], serde_json::json!(["busybox"]));
    assert_eq!(
        store.ok(&["call", "greet", "greet", "--name", "oci"]),
        "hello, oci\n"
    );
}

#[test]
fn an_artifact_whose_component_does_not_match_its_digest_is_refused() {
    let store = Store::new("store-oci-digest");
    let reference = format!("{REGISTRY}/berth-test/forged-{}:1.0.0", nonce());
    let wrong = format!("blake3:{}", blake3::hash(b"another component").to_hex());
    push_raw(
        &reference,
        "application/vnd.wasm.config.v0+json",
        &path("hello"),
        &wrong,
    );
    let refused = store.run(&["plugin", "install", &format!("oci://{reference}")]);
    assert_clear_failure(&refused, &format!("but the artifact says {wrong}"));
    assert!(store.components().is_empty());
}

#[test]
fn an_artifact_that_is_not_a_wasm_component_is_refused() {
    let store = Store::new("store-oci-image");
    let reference = format!("{REGISTRY}/berth-test/image-{}:1.0.0", nonce());
    push_raw(
        &reference,
        "application/vnd.oci.image.config.v1+json",
        &path("hello"),
        &blake3_of("hello"),
    );
    let refused = store.run(&["plugin", "install", &format!("oci://{reference}")]);
    assert_clear_failure(
        &refused,
        "is not a Wasm component artifact: its config is application/vnd.oci.image.config.v1+json",
    );
    let unreachable = store.run(&[
        "plugin",
        "install",
        "oci://127.0.0.1:1/berth-test/none:1.0.0",
    ]);
    assert_clear_failure(
        &unreachable,
        "pulling oci://127.0.0.1:1/berth-test/none:1.0.0 failed",
    );
    assert!(store.components().is_empty());
}

fn registry_client() -> oci_client::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a tokio runtime")
}

/// The manifest and config of an artifact in the local registry.
fn artifact(reference: &str) -> (oci_client::manifest::OciImageManifest, String) {
    let reference: oci_client::Reference = reference.parse().unwrap();
    let (manifest, _, config) =
        runtime()
            .block_on(registry_client().pull_manifest_and_config(
                &reference,
                &oci_client::secrets::RegistryAuth::Anonymous,
            ))
            .expect("the pushed artifact is in the registry");
    (manifest, config)
}

/// Pushes a component with a config of `config_type` and a berth digest
/// annotation of our choosing, as a forger (or another tool) might.
fn push_raw(reference: &str, config_type: &str, component: &str, digest: &str) {
    let reference: oci_client::Reference = reference.parse().unwrap();
    let layer = oci_client::client::ImageLayer::new(
        std::fs::read(component).unwrap(),
        "application/wasm".into(),
        None,
    );
    let config = oci_client::client::Config::new(b"{}".to_vec(), config_type.into(), None);
    let annotations = [("dev.berth.plugin.digest".to_string(), digest.to_string())].into();
    let layers = [layer];
    let manifest =
        oci_client::manifest::OciImageManifest::build(&layers, &config, Some(annotations));
    runtime()
        .block_on(registry_client().push(
            &reference,
            &layers,
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            Some(manifest),
        ))
        .expect("the local registry takes the push (run `cargo xtask test`, which starts it)");
}

/// A docker-registry of its own on a free loopback port that takes only
/// `berth` / `s3cret` (htpasswd, bcrypt); stopped on drop.
struct LoginRegistry {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl LoginRegistry {
    fn start() -> LoginRegistry {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("berth:{hash}\n")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n\
             http:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: berth-test\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (cargo xtask test installs it)");
        let registry = LoginRegistry {
            child,
            address,
            _dir: dir,
        };
        for _ in 0..300 {
            if std::net::TcpStream::connect(&registry.address).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "docker-registry did not listen on {} within 30 s",
            registry.address
        );
    }
}

impl Drop for LoginRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_registry_that_asks_for_a_login_takes_dockers_credentials() {
    let registry = LoginRegistry::start();
    let store = Store::new("store-login");
    store.install("greet-rust", "greet", "1.0.0", &[]);
    let target = format!("oci://{}/berth-test/greet", registry.address);

    let anonymous = store.run(&["plugin", "push", "greet", &target]);
    assert_clear_failure(
        &anonymous,
        &format!(
            "berth found no credentials for {} in Docker's config.json",
            registry.address
        ),
    );

    // As `docker login` writes them: base64 of `berth:s3cret`.
    store.docker_config(&format!(
        r#"{{"auths": {{"{}": {{"auth": "YmVydGg6czNjcmV0"}}}}}}"#,
        registry.address
    ));
    store.ok(&["plugin", "push", "greet", &target]);
    store.ok(&["plugin", "remove", "greet"]);

    // Through a credential helper, as Docker Desktop and cloud CLIs set up.
    let bin = store.data.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-berth-test");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\necho '{\"Username\": \"berth\", \"Secret\": \"s3cret\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    store.docker_config(r#"{"credsStore": "berth-test"}"#);
    store.ok(&["plugin", "install", &format!("{target}:1.0.0")]);
    assert_eq!(
        store.ok(&["call", "greet", "greet", "--name", "login"]),
        "hello, login\n"
    );

    // Wrong credentials are the registry's refusal, named.
    store.docker_config(&format!(
        r#"{{"auths": {{"{}": {{"username": "berth", "password": "wrong"}}}}}}"#,
        registry.address
    ));
    let refused = store.run(&["plugin", "install", &format!("{target}:1.0.0")]);
    assert_clear_failure(&refused, &format!("pulling {target}:1.0.0 failed"));
}

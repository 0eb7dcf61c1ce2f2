//! The greet plugin built from Rust, Python, JavaScript and C behaves the
//! same: the same exports, the same greeting, the same service, and a client
//! that binds each language's service reads the same page from it.

mod common;

use std::sync::{Arc, OnceLock};

use berth::pipeline::Want;
use berth::policy::Policy;
use berth::spec::{ContainerSpec, Op};
use berth::wasm::{CallOutput, HostContext, OutputFormat, Plugin, Runtime};
use common::{TestSession, nonce, root};

const LANGUAGES: [&str; 4] = ["greet-rust", "greet-python", "greet-js", "greet-c"];

/// The cache directory `berth` gets from `TestSession::new`.
fn test_cache() -> std::path::PathBuf {
    root().join("target/test-cache")
}

/// Every language's plugin, loaded in this process in LANGUAGES order.
///
/// The first test to get here loads the four one after another, and the
/// others wait for it: the Python and JavaScript components take 20 to 45 s
/// each to compile, so they are compiled once per test run, into the cache
/// that the `berth` commands of every test then load them from.
fn plugins() -> &'static [Plugin] {
    static LOADED: OnceLock<(Runtime, Vec<Plugin>)> = OnceLock::new();
    let (_runtime, plugins) = LOADED.get_or_init(|| {
        let runtime = Runtime::new(&test_cache()).expect("a wasm runtime");
        let plugins = LANGUAGES
            .iter()
            .map(|name| {
                runtime
                    .load(&common::plugin(name))
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect();
        (runtime, plugins)
    });
    plugins
}

#[test]
fn every_language_exports_the_same_functions() {
    plugins();
    let session = TestSession::new("languages-functions");
    for plugin in LANGUAGES {
        let output = session.run(&["functions", common::plugin(plugin).to_str().unwrap()]);
        assert!(
            output.status.success(),
            "{plugin}: {}",
            common::stderr(&output)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "greet: func(name: string) -> result<string, error>\nhttp-service: func() -> service\n",
            "{plugin}"
        );
    }
}

#[test]
fn every_language_greets_from_a_container() {
    plugins();
    let session = TestSession::new("languages-greet");
    for plugin in LANGUAGES {
        assert_eq!(
            session.call_ok(plugin, "greet", &["--name", "world"]),
            "hello, world\n",
            "{plugin}"
        );
    }
}

#[test]
fn every_language_builds_the_same_service() {
    plugins();
    let session = TestSession::new("languages-service");
    let hostnames: Vec<String> = LANGUAGES
        .iter()
        .map(|plugin| session.call_ok(plugin, "http-service", &["hostname"]))
        .collect();
    assert!(
        hostnames.iter().all(|h| h == &hostnames[0]),
        "{LANGUAGES:?}: {hostnames:?}"
    );
}

#[test]
fn a_client_binds_every_languages_service() {
    let plugins = plugins();
    let guard = TestSession::new("languages-bind");
    let policy = Arc::new(Policy::load(Some(&root().join("berth.toml"))).expect("berth.toml"));
    let host = Arc::new(HostContext {
        services: common::in_process_services(&guard, &policy, test_cache().join("exec")),
        policy,
    });
    let session = host.services.evaluator().session().clone();
    let tokio = tokio::runtime::Runtime::new().unwrap();

    let bodies = tokio.block_on(async {
        let mut bodies = Vec::new();
        for (name, plugin) in LANGUAGES.iter().zip(plugins) {
            let service = match plugin
                .call(host.clone(), "http-service", &[], OutputFormat::Wave)
                .await
            {
                Ok(CallOutput::Service(service)) => service,
                other => panic!("{name} http-service: {other:?}"),
            };
            // The client step runs (and so binds) every time: a cached step binds nothing.
            let client = ContainerSpec::new("busybox")
                .with(Op::EnvVariable {
                    name: "RUN".into(),
                    value: nonce(),
                })
                .with(Op::ServiceBinding {
                    alias: "www".into(),
                    service,
                })
                .with(Op::Exec(
                    ["wget", "-qO-", "http://www:8080/"]
                        .map(String::from)
                        .into(),
                ));
            let evaluation = host
                .services
                .evaluate(&client, Want::Output)
                .await
                .unwrap_or_else(|e| panic!("{name}: a client bound to its service: {e}"));
            let output = evaluation
                .successful_exec()
                .unwrap_or_else(|e| panic!("{name}: wget in the client: {e}"));
            bodies.push(output.stdout.clone());
        }
        session.end().await.expect("session end");
        bodies
    });
    for (name, body) in LANGUAGES.iter().zip(&bodies) {
        assert_eq!(body, "hello from berth\n", "{name}");
    }
    // The session guard asserts that no service, client or network is left.
}

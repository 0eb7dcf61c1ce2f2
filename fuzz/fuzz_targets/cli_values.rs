//! Command-line text to typed WIT values: through a real plugin function
//! (`pipelines.describe`, which takes a string, bool, u32, f64, enum, option,
//! list and record) any argument list either calls the function or is refused
//! with an argument error, and never panics or reaches the guest malformed.

#![no_main]

use std::sync::{Arc, OnceLock};

use berth::backend::docker::DockerBackend;
use berth::pipeline::{Evaluator, ExecCache};
use berth::policy::Policy;
use berth::progress::NoProgress;
use berth::services::ServiceManager;
use berth::session::Session;
use berth::wasm::{CallOutput, Error, HostContext, OutputFormat, Plugin, Runtime};
use libfuzzer_sys::fuzz_target;

struct Harness {
    tokio: tokio::runtime::Runtime,
    plugin: Plugin,
    host: Arc<HostContext>,
    _cache: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let plugin_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/plugins/pipelines.wasm");
        let cache = tempfile::tempdir().expect("a cache dir");
        let runtime = Runtime::new(cache.path()).expect("a wasm runtime");
        let plugin = runtime.load(&plugin_path).expect("target/plugins/pipelines.wasm (run `cargo xtask build-plugins`)");
        // `describe` needs no engine; one it reached by mistake must not answer.
        // SAFETY: set before any other thread of this process starts.
        unsafe { std::env::set_var("DOCKER_HOST", "unix:///nonexistent/berth-fuzz.sock") };
        let tokio = tokio::runtime::Runtime::new().expect("tokio");
        let backend = DockerBackend::new();
        let session = Arc::new(Session::new(Arc::new(backend)));
        let evaluator = Evaluator::new(
            session,
            Default::default(),
            ExecCache::new(cache.path().join("exec")),
            Arc::new(NoProgress),
        );
        let policy = Arc::new(Policy::default());
        let host = Arc::new(HostContext {
            services: ServiceManager::new(Arc::new(evaluator), policy.services.clone()),
            policy,
        });
        Harness {
            tokio,
            plugin,
            host,
            _cache: cache,
        }
    })
}

// One argument per line, so seeds are plain text.
fuzz_target!(|text: &str| {
    let args: Vec<String> = text.lines().map(String::from).collect();
    let harness = harness();
    let called = harness.tokio.block_on(harness.plugin.call(
        harness.host.clone(),
        "describe",
        &args,
        OutputFormat::Json,
    ));
    match called {
        Ok(CallOutput::Value(text)) => assert!(text.starts_with("\"text=")),
        Ok(other) => panic!("describe returns a string, not {other:?}"),
        Err(
            Error::UnknownParameter { .. }
            | Error::MissingParameter { .. }
            | Error::BadValue { .. }
            | Error::BadArgument(_),
        ) => {}
        Err(other) => panic!("{args:?} passed the argument checks but failed: {other}"),
    }
});

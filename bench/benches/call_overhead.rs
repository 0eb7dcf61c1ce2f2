//! In-process costs of plugins/hello: cold compile, cached load, and a warm call.
//!
//! Run through `cargo xtask bench`, which builds the plugins first. Prints one
//! tab-separated line per measurement: name, reference name (or `-`), then
//! every sample in milliseconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use berth::policy::Policy;
use berth::wasm::{HostContext, OutputFormat, Runtime};

mod support;

use support::{BenchSession, report};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let hello = root.join("target/plugins/hello.wasm");
    let cache = tempfile::tempdir().expect("temporary cache dir");

    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for round in 0..5 {
        let dir = cache.path().join(format!("round-{round}"));
        let runtime = Runtime::new(&dir).expect("runtime");
        let started = Instant::now();
        runtime.load(&hello).expect("cold load");
        cold.push(started.elapsed());
        let runtime = Runtime::new(&dir).expect("runtime");
        let started = Instant::now();
        runtime.load(&hello).expect("cached load");
        cached.push(started.elapsed());
    }
    report("hello: cold compile", None, &cold);
    report("hello: cached load", Some("hello: cold compile"), &cached);

    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let runtime = Runtime::new(cache.path()).expect("runtime");
    let plugin = runtime.load(&hello).expect("load");
    let bench = BenchSession::new();
    let host = Arc::new(HostContext {
        services: bench.services.clone(),
        policy: Arc::new(Policy::default()),
    });
    let args = vec!["--name".to_string(), "bench".to_string()];
    let mut calls = Vec::new();
    tokio.block_on(async {
        for _ in 0..1000 {
            let started = Instant::now();
            plugin
                .call(host.clone(), "hello", &args, OutputFormat::Wave)
                .await
                .expect("call");
            calls.push(started.elapsed());
        }
    });
    report(
        "hello: warm in-process call (instantiate + call)",
        None,
        &calls,
    );
}

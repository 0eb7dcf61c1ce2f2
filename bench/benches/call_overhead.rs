//! In-process costs of plugins/hello: cold compile, cached load, a warm call
//! (instantiate + call) with the pooling allocator and without it, and how
//! many instances live at once per GiB of resident memory.
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

use support::{BenchSession, figure, report, resident_bytes};

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
    let bench = BenchSession::new();
    let host = Arc::new(HostContext {
        services: bench.services.clone(),
        policy: Arc::new(Policy::default()),
    });
    let args = vec!["--name".to_string(), "bench".to_string()];
    // Rounds alternate between the two allocators, so drift hits both alike.
    let pooled = Runtime::new(cache.path()).expect("runtime");
    let on_demand = Runtime::on_demand(cache.path()).expect("runtime");
    let pooled_plugin = pooled.load(&hello).expect("load");
    let on_demand_plugin = on_demand.load(&hello).expect("load");
    let (mut pooled_calls, mut on_demand_calls) = (Vec::new(), Vec::new());
    tokio.block_on(async {
        for _ in 0..1000 {
            for (plugin, samples) in [
                (&on_demand_plugin, &mut on_demand_calls),
                (&pooled_plugin, &mut pooled_calls),
            ] {
                let started = Instant::now();
                plugin
                    .call(host.clone(), "hello", &args, OutputFormat::Wave)
                    .await
                    .expect("call");
                samples.push(started.elapsed());
            }
        }
    });
    report(
        "hello: warm in-process call (instantiate + call), on-demand allocation",
        None,
        &on_demand_calls,
    );
    report(
        "hello: warm in-process call (instantiate + call), pooling allocator",
        Some("hello: warm in-process call (instantiate + call), on-demand allocation"),
        &pooled_calls,
    );
    instances_per_gib(
        &tokio,
        &pooled,
        &root.join("target/plugins/hostile.wasm"),
        &bench,
    );
}

/// Resident memory per live instance: 200 calls of hostile's `spin` (which
/// loops, yielding to the epoch) run at once until a 3 s deadline; the
/// growth of this process's resident set while they all run, over 200.
fn instances_per_gib(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    hostile: &std::path::Path,
    bench: &BenchSession,
) {
    const LIVE: usize = 200;
    let plugin = Arc::new(runtime.load(hostile).expect("load hostile"));
    let mut policy = Policy::default();
    policy.limits.timeout = std::time::Duration::from_secs(3);
    let host = Arc::new(HostContext {
        services: bench.services.clone(),
        policy: Arc::new(policy),
    });
    tokio.block_on(async {
        let before = resident_bytes();
        let calls: Vec<_> = (0..LIVE)
            .map(|_| {
                let (plugin, host) = (plugin.clone(), host.clone());
                tokio::spawn(
                    async move { plugin.call(host, "spin", &[], OutputFormat::Wave).await },
                )
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let during = resident_bytes();
        for call in calls {
            let _ = call.await;
        }
        let per_instance = during.saturating_sub(before) as f64 / LIVE as f64;
        figure(
            "hostile (Rust): resident memory per live instance, 200 at once",
            per_instance / (1 << 20) as f64,
            "MiB",
        );
        figure(
            "hostile (Rust): live instances per GiB of resident memory",
            (1u64 << 30) as f64 / per_instance.max(1.0),
            "instances",
        );
    });
}

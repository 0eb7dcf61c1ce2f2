//! Soak: 500 sequential calls of a service-binding function in one process,
//! then 200 concurrent ones. Memory stays flat, every call succeeds, the
//! service is started once, and nothing is left behind.

mod common;

use std::sync::Arc;

use berth::policy::Policy;
use berth::wasm::{CallOutput, HostContext, OutputFormat, Plugin, Runtime};
use common::{TestSession, nonce, plugin, root};

const SEQUENTIAL: u32 = 500;
const CONCURRENT: u32 = 200;
/// Calls before the first memory reading, so caches and pools have filled.
const WARM_UP: u32 = 50;
/// How much the resident memory may grow from the warm-up to the end.
const MAX_GROWTH_BYTES: u64 = 24 << 20;

/// This process's resident memory in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

async fn fetch(plugin: &Plugin, host: &Arc<HostContext>, tag: &str, n: u32) {
    let args = ["--tag", tag, "--n", &n.to_string()].map(String::from);
    match plugin
        .call(host.clone(), "fetch-nth", &args, OutputFormat::Wave)
        .await
    {
        Ok(CallOutput::Value(body)) => assert_eq!(body, "soak", "call {n}"),
        other => panic!("call {n}: {other:?}"),
    }
}

#[test]
fn five_hundred_sequential_and_two_hundred_concurrent_calls() {
    let guard = TestSession::uncached("soak");
    let mut policy = Policy::load(Some(&root().join("berth.toml"))).expect("berth.toml");
    // 200 calls at once queue on the engine (five or six containers a second)
    // for longer than the default deadline; this test is about memory, not deadlines.
    policy.limits.timeout = std::time::Duration::from_secs(600);
    let policy = Arc::new(policy);
    let cache = tempfile::tempdir().unwrap();
    let host = Arc::new(HostContext {
        services: common::in_process_services(&guard, &policy, cache.path().join("exec")),
        policy,
    });
    let session = host.services.evaluator().session().clone();
    let runtime = Runtime::new(cache.path()).unwrap();
    let plugin = Arc::new(runtime.load(&plugin("service-probes")).unwrap());
    let tag = nonce();
    let tokio = tokio::runtime::Runtime::new().unwrap();

    let (warm, after_sequential) = tokio.block_on(async {
        let mut warm = 0;
        for n in 0..SEQUENTIAL {
            if n == WARM_UP {
                warm = resident_bytes();
            }
            fetch(&plugin, &host, &tag, n).await;
        }
        (warm, resident_bytes())
    });
    tokio.block_on(async {
        let calls = (SEQUENTIAL..SEQUENTIAL + CONCURRENT).map(|n| {
            let (plugin, host, tag) = (plugin.clone(), host.clone(), tag.clone());
            tokio::spawn(async move { fetch(&plugin, &host, &tag, n).await })
        });
        for call in futures_util::future::join_all(calls).await {
            call.expect("the call task");
        }
        session.end().await.expect("session end");
    });
    let after_concurrent = resident_bytes();
    eprintln!(
        "soak: resident memory {} MiB after {WARM_UP} calls, {} MiB after {SEQUENTIAL}, {} MiB after {CONCURRENT} more at once",
        warm >> 20,
        after_sequential >> 20,
        after_concurrent >> 20
    );

    assert!(
        after_sequential.saturating_sub(warm) < MAX_GROWTH_BYTES,
        "resident memory grew from {warm} to {after_sequential} bytes over {} sequential calls",
        SEQUENTIAL - WARM_UP
    );
    // The concurrent burst holds 200 calls' memory at once; afterwards it must be returned.
    assert!(
        after_concurrent.saturating_sub(warm) < 2 * MAX_GROWTH_BYTES,
        "resident memory grew from {warm} to {after_concurrent} bytes after the concurrent calls"
    );
    assert_eq!(
        guard.created_of_kind("service"),
        1,
        "every call shared one service"
    );
    // A long-lived evaluator keeps no lock for each of the 700 steps it ran.
    assert_eq!(host.services.evaluator().steps_in_flight(), 0);
    assert_eq!(
        guard.created_of_kind("step"),
        (SEQUENTIAL + CONCURRENT) as usize,
        "every call ran its own client"
    );
    // The session guard asserts that no container, network or untagged image is left.
}

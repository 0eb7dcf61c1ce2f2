//! What the benches share: a session on the real engine, and the output format.

#![allow(dead_code)] // each bench uses a different part of this module

use std::sync::Arc;
use std::time::Duration;

use berth::backend::docker::DockerBackend;
use berth::pipeline::{Evaluator, ExecCache};
use berth::policy::{ImagePolicy, Policy};
use berth::progress::NoProgress;
use berth::services::ServiceManager;
use berth::session::Session;

/// A session with its own exec cache, and the services that run in it.
pub struct BenchSession {
    /// Kept so the cache outlives the bench.
    pub cache: tempfile::TempDir,
    pub backend: Arc<DockerBackend>,
    pub session: Arc<Session>,
    pub services: Arc<ServiceManager>,
}

impl BenchSession {
    pub fn new() -> BenchSession {
        let cache = tempfile::tempdir().expect("cache dir");
        let backend = Arc::new(DockerBackend::new());
        let session = Arc::new(Session::new(backend.clone()));
        let evaluator = Evaluator::new(
            session.clone(),
            ImagePolicy::default(),
            ExecCache::new(cache.path().join("exec")),
            Arc::new(NoProgress),
        );
        let services = ServiceManager::new(Arc::new(evaluator), Policy::default().services);
        BenchSession {
            cache,
            backend,
            session,
            services,
        }
    }
}

/// One measurement as `name, reference (or -), samples in ms...`, tab-separated,
/// the format `cargo xtask bench` reads.
pub fn report(name: &str, reference: Option<&str>, samples: &[Duration]) {
    let millis: Vec<String> = samples
        .iter()
        .map(|d| format!("{:.4}", d.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "{name}\t{}\t{}",
        reference.unwrap_or("-"),
        millis.join("\t")
    );
}

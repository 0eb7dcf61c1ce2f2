//! berth runs functions written in any language that compiles to a
//! WebAssembly component. A function builds containers and services through
//! the `berth:core` WIT interface; berth fulfils those calls with real
//! containers on a Docker engine.
//!
//! The layers, from the guest down:
//! - [`wasm`] loads components, links the host side of the WIT and calls exports;
//! - [`spec`] holds the immutable values guests build, and their digests;
//! - [`pipeline`] evaluates container pipelines with the exec cache;
//! - [`services`] starts, shares, health-checks and stops services;
//! - [`backend`] is the only place that speaks to the engine;
//! - [`session`] labels and tears down what one run made;
//! - [`policy`] is `berth.toml`, validated once;
//! - [`store`] keeps installed plugins by digest, and moves them to and from OCI registries.
//!
//! ```
//! use berth::spec::{ContainerSpec, Op, ResolvedImages};
//! // Building a pipeline is pure: nothing runs until it is evaluated.
//! let spec = ContainerSpec::new("busybox").with(Op::Exec(vec!["echo".into(), "hi".into()].into()));
//! // Its digest covers the image's content id, once the evaluator has resolved it.
//! let images = ResolvedImages::from([("busybox".to_string(), "sha256:1".to_string())]);
//! assert_eq!(spec.digest(&images), spec.digest(&images));
//! ```

mod atomic_file;
pub mod backend;
pub mod budget;
mod capped_count;
pub mod host_directory;
pub mod net;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod project;
pub mod server;
pub mod services;
pub mod session;
pub mod spec;
pub mod store;
pub mod wasm;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a panicking thread poisoned it
/// (every mutex here guards plain maps that a panic cannot leave half-written).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where berth keeps compiled components and the exec cache:
/// `$BERTH_CACHE_DIR`, else the user's cache directory, else `./.berth-cache`.
pub fn cache_dir() -> PathBuf {
    user_dir("BERTH_CACHE_DIR", dirs::cache_dir(), ".berth-cache")
}

/// Where berth keeps installed plugins: `$BERTH_DATA_DIR`, else the user's
/// data directory, else `./.berth-data`.
pub fn data_dir() -> PathBuf {
    user_dir("BERTH_DATA_DIR", dirs::data_dir(), ".berth-data")
}

/// `$VARIABLE` when set, else `berth` in the user's `base`, else `fallback`.
fn user_dir(variable: &str, base: Option<PathBuf>, fallback: &str) -> PathBuf {
    match std::env::var_os(variable).filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => base.map_or_else(|| PathBuf::from(fallback), |dir| dir.join("berth")),
    }
}

//! One run of berth: the labels its objects carry and the teardown that removes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::backend::{self, ContainerBackend, Labels};
use crate::policy::Limits;

/// One run of berth against an engine.
///
/// Every container made during the session carries its labels;
/// [`Session::end`] removes them all, whatever state the run ended in.
pub struct Session {
    id: String,
    pid: u32,
    backend: Arc<dyn ContainerBackend>,
    containers: Budget,
    services: Budget,
}

/// The kinds of container a session starts, as its budgets count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// An exec step.
    Step,
    /// A container that only reads a file out of a filesystem.
    Copy,
    /// A service.
    Service,
}

/// How many containers of a kind a session may still start.
struct Budget {
    cap: u32,
    used: AtomicU32,
}

impl Budget {
    fn new(cap: u32) -> Budget {
        Budget {
            cap,
            used: AtomicU32::new(0),
        }
    }
}

/// A session's cap on containers was reached.
#[derive(Debug, thiserror::Error)]
#[error("this call may start at most {cap} {what} ([limits] {key} in berth.toml)")]
pub struct BudgetExceeded {
    cap: u32,
    what: &'static str,
    key: &'static str,
}

impl Session {
    /// A session with a fresh random id, or the id in `BERTH_SESSION` when set
    /// (tests use it to find what a berth process made).
    pub fn new(backend: Arc<dyn ContainerBackend>) -> Session {
        let id = std::env::var("BERTH_SESSION")
            .ok()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(random_id);
        Session::with_id(backend, id)
    }

    /// A session with the given id.
    pub fn with_id(backend: Arc<dyn ContainerBackend>, id: String) -> Session {
        // Uncapped until `with_limits`; a call's policy sets the caps.
        Session {
            id,
            pid: std::process::id(),
            backend,
            containers: Budget::new(u32::MAX),
            services: Budget::new(u32::MAX),
        }
    }

    /// The session, held to the caps on containers and services in `limits`.
    pub fn with_limits(mut self, limits: &Limits) -> Session {
        self.containers = Budget::new(limits.containers);
        self.services = Budget::new(limits.services);
        self
    }

    /// Counts a container about to start, or refuses it when the session's
    /// cap for its kind is reached.
    pub fn admit(&self, kind: ContainerKind) -> Result<(), BudgetExceeded> {
        let (budget, what, key) = match kind {
            ContainerKind::Step | ContainerKind::Copy => {
                (&self.containers, "containers", "containers")
            }
            ContainerKind::Service => (&self.services, "services", "services"),
        };
        let admitted = budget
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < budget.cap).then_some(used + 1)
            });
        admitted.map(|_| ()).map_err(|_| BudgetExceeded {
            cap: budget.cap,
            what,
            key,
        })
    }

    /// The session id, as written in the `berth.session` label.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The labels every object of this session carries.
    pub fn labels(&self) -> Labels {
        Labels::for_session(&self.id, self.pid)
    }

    /// The engine the session runs on.
    pub fn backend(&self) -> &Arc<dyn ContainerBackend> {
        &self.backend
    }

    /// Removes every container of this session, and its snapshots no exec cache keeps.
    pub async fn end(&self) -> Result<(), backend::Error> {
        self.backend.remove_session(&self.id).await
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 6];
    // Without OS randomness, the pid and the clock still keep concurrent runs apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
        bytes[4..].copy_from_slice(&(std::process::id() as u16).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

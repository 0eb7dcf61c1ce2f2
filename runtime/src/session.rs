//! One run of berth: the labels its objects carry and the teardown that removes them.

use std::sync::Arc;

use crate::backend::{self, ContainerBackend, Labels};

/// One run of berth against an engine.
///
/// Every container made during the session carries its labels;
/// [`Session::end`] removes them all, whatever state the run ended in.
pub struct Session {
    id: String,
    pid: u32,
    backend: Arc<dyn ContainerBackend>,
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
        Session {
            id,
            pid: std::process::id(),
            backend,
        }
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

//! One run of berth: the labels its objects carry and the teardown that removes them.

use std::sync::Arc;

use crate::backend::{self, ContainerBackend, ContainerLimits, LABEL_TENANT, Labels};
use crate::capped_count::CappedCount;

/// One run of berth against an engine.
///
/// Every container made during the session carries its labels;
/// [`Session::end`] removes them all, whatever state the run ended in.
pub struct Session {
    id: String,
    backend: Arc<dyn ContainerBackend>,
    /// How many of its containers may run at once (a tenant's quota), if capped.
    live: Option<Arc<CappedCount>>,
    /// What each of its containers is held to.
    limits: ContainerLimits,
    /// The `berth serve` tenant it runs for, if any: its objects say so.
    tenant: Option<String>,
}

/// One running container of a capped session; dropping it frees its place.
pub struct LivePermit(Option<Arc<CappedCount>>);

impl Drop for LivePermit {
    fn drop(&mut self) {
        if let Some(count) = &self.0 {
            count.give_back();
        }
    }
}

/// A session's cap on containers running at once was reached.
#[derive(Debug, thiserror::Error)]
#[error(
    "{cap} containers are running at once already, the tenant's quota ([tenant.quota] containers)"
)]
pub struct LiveCapReached {
    cap: u32,
}

impl Session {
    /// A session with a fresh random id, or the id in `BERTH_SESSION` when set
    /// (tests use it to find what a berth process made).
    pub fn new(backend: Arc<dyn ContainerBackend>) -> Session {
        Session::with_id(backend, new_id())
    }

    /// A session with the given id.
    pub fn with_id(backend: Arc<dyn ContainerBackend>, id: String) -> Session {
        Session {
            id,
            backend,
            live: None,
            limits: ContainerLimits::default(),
            tenant: None,
        }
    }

    /// The session of `berth serve` tenant `tenant`: every object it makes,
    /// snapshots included, carries the tenant's name.
    pub fn for_tenant(mut self, tenant: &str) -> Session {
        self.tenant = Some(tenant.to_string());
        self
    }

    /// The session, holding each of its containers to `limits`.
    pub fn with_limits(mut self, limits: ContainerLimits) -> Session {
        self.limits = limits;
        self
    }

    /// What each of the session's containers is held to.
    pub fn limits(&self) -> &ContainerLimits {
        &self.limits
    }

    /// The session, allowing at most `cap` of its containers to run at once.
    pub fn with_live_cap(mut self, cap: u32) -> Session {
        self.live = Some(Arc::new(CappedCount::new(cap)));
        self
    }

    /// A place for one more running container, held until the permit drops,
    /// or a refusal when the session's cap is reached.
    pub fn hold(&self) -> Result<LivePermit, LiveCapReached> {
        let Some(count) = &self.live else {
            return Ok(LivePermit(None));
        };
        if count.take() {
            Ok(LivePermit(Some(count.clone())))
        } else {
            Err(LiveCapReached { cap: count.cap() })
        }
    }

    /// The session id, as written in the `berth.session` label.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The labels every object of this session carries.
    pub fn labels(&self) -> Labels {
        let labels = Labels::for_session(&self.id);
        match &self.tenant {
            Some(tenant) => labels.with(LABEL_TENANT, tenant),
            None => labels,
        }
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

/// A fresh random session id, or the id in `BERTH_SESSION` when set.
pub fn new_id() -> String {
    std::env::var("BERTH_SESSION")
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(random_id)
}

/// Twelve random hex digits.
pub(crate) fn random_id() -> String {
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

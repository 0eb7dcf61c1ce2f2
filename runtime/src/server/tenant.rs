//! One tenant at run time: its plugins, its services on its own network,
//! its exec cache, and the quotas that bound what it uses at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::tenants::{Quota, TenantConfig};
use crate::backend::{ContainerBackend, LABEL_KIND};
use crate::lock;
use crate::pipeline::{Evaluator, ExecCache};
use crate::progress::NoProgress;
use crate::services::{ServiceManager, ServiceNetworkChoice};
use crate::session::Session;
use crate::store::{Digest, Manifest, PluginMetadata, PluginRef, PluginStore};
use crate::wasm::{HostContext, Plugin, Runtime};

/// A tenant of `berth serve`.
pub struct Tenant {
    pub name: String,
    token_hash: blake3::Hash,
    quota: Quota,
    store: PluginStore,
    /// Held by uploads and removals, so the storage quota and the store's
    /// version check each see what the others wrote.
    store_writes: Mutex<()>,
    host: Arc<HostContext>,
    session: Arc<Session>,
    calls: Arc<Semaphore>,
    /// Plugins loaded once, by `name@version` (verified when first read;
    /// uploads never replace a version, so an entry stays true until removed).
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
}

impl Tenant {
    /// The tenant's run-time state: everything it makes carries the server's
    /// session labels, and runs on the network `berth-tenant-NAME-SESSION`.
    pub fn new(
        config: TenantConfig,
        backend: Arc<dyn ContainerBackend>,
        session_id: &str,
        data_dir: &Path,
    ) -> Tenant {
        let session = Arc::new(
            Session::with_id(backend, session_id.to_string())
                .with_live_cap(config.quota.containers)
                .with_limits(config.policy.containers.clone())
                .for_tenant(&config.name),
        );
        let dir = data_dir.join("tenants").join(&config.name);
        let evaluator = Evaluator::new(
            session.clone(),
            config.policy.images.clone(),
            ExecCache::new(dir.join("exec")),
            Arc::new(NoProgress),
        );
        // Named by the server's session too: two servers on one engine may
        // both have a tenant of this name.
        let network = ServiceNetworkChoice::Dedicated {
            name: format!("berth-tenant-{}-{session_id}", config.name),
            labels: session.labels().with(LABEL_KIND, "network"),
        };
        let services = ServiceManager::on_network(
            Arc::new(evaluator),
            config.policy.services.clone(),
            network,
        );
        Tenant {
            name: config.name,
            token_hash: config.token_hash,
            host: Arc::new(HostContext {
                services,
                policy: config.policy,
            }),
            calls: Arc::new(Semaphore::new(config.quota.calls as usize)),
            quota: config.quota,
            store: PluginStore::new(dir.join("plugins")),
            store_writes: Mutex::new(()),
            session,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `token` is this tenant's (compared in constant time).
    pub fn owns(&self, token: &str) -> bool {
        blake3::hash(token.as_bytes()) == self.token_hash
    }

    /// The tenant's installed plugins.
    pub fn plugins(&self) -> Result<Vec<Manifest>, ApiError> {
        Ok(self.store.list()?)
    }

    /// One installed plugin's manifest.
    pub fn manifest(&self, reference: &PluginRef) -> Result<Manifest, ApiError> {
        Ok(self.store.resolve(reference)?)
    }

    /// Validates and stores a plugin, within the storage quota, which counts
    /// each distinct component once.
    pub fn install(
        &self,
        runtime: &Runtime,
        bytes: &[u8],
        metadata: PluginMetadata,
    ) -> Result<Manifest, ApiError> {
        metadata
            .needs
            .check(&self.host.policy.images)
            .map_err(|refusal| {
                ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "not-allowed",
                    format!(
                        "{}@{} needs an image tenant `{}` may not use: {refusal}",
                        metadata.name, metadata.version, self.name
                    ),
                )
            })?;
        let _writing = lock(&self.store_writes);
        if !self.store.holds(&Digest::of(bytes))? {
            self.check_room(bytes.len() as u64)?;
        }
        Ok(self.store.install(runtime, bytes, metadata, false)?)
    }

    /// Refuses a plugin of `size` bytes that even an empty store could not hold.
    pub fn check_fits(&self, size: u64) -> Result<(), ApiError> {
        self.refuse_past_quota(size, 0)
    }

    /// Refuses `added` more bytes of plugins when they would pass the storage quota.
    fn check_room(&self, added: u64) -> Result<(), ApiError> {
        self.refuse_past_quota(added, self.store.size()?)
    }

    fn refuse_past_quota(&self, added: u64, used: u64) -> Result<(), ApiError> {
        if used + added <= self.quota.storage {
            return Ok(());
        }
        Err(ApiError::quota(format!(
            "storing {added} more bytes would pass tenant `{}`'s plugin storage quota of {} bytes ({used} used)",
            self.name, self.quota.storage,
        ))
        .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE))
    }

    /// Removes a plugin.
    pub fn remove(&self, reference: &PluginRef) -> Result<Manifest, ApiError> {
        let manifest = {
            let _writing = lock(&self.store_writes);
            self.store.remove(reference)?
        };
        lock(&self.loaded).remove(&manifest.id());
        Ok(manifest)
    }

    /// The loaded plugin a reference means.
    pub fn plugin(
        &self,
        runtime: &Runtime,
        reference: &PluginRef,
    ) -> Result<Arc<Plugin>, ApiError> {
        let manifest = self.store.resolve(reference)?;
        let id = manifest.id();
        if let Some(plugin) = lock(&self.loaded).get(&id) {
            return Ok(plugin.clone());
        }
        let bytes = self.store.read(&manifest)?;
        let plugin = Arc::new(runtime.load_bytes(&id, &bytes)?);
        lock(&self.loaded).insert(id, plugin.clone());
        Ok(plugin)
    }

    /// A place for one more call, or a refusal when the tenant's calls quota is reached.
    pub fn admit_call(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.calls.clone().try_acquire_owned().map_err(|_| {
            ApiError::quota(format!(
                "tenant `{}` already runs {} calls at once, its quota",
                self.name, self.quota.calls
            ))
        })
    }

    /// What the tenant's calls reach: its services and its policy.
    pub fn host(&self) -> &Arc<HostContext> {
        &self.host
    }

    /// The tenant's session: the server's, with the tenant's running-containers cap.
    pub(super) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Removes the tenant's network.
    pub(super) async fn remove_network(&self) -> Result<(), crate::pipeline::Error> {
        self.host.services.remove_network().await
    }
}

//! `berth serve`: multi-tenant execution over HTTP.
//!
//! Tenants authenticate with bearer tokens from a tenants file
//! ([`tenants`]). Each tenant has its own plugin store, exec cache, policy,
//! quotas, and service manager on its own network, so its services are
//! shared by its concurrent calls and by nobody else's ([`tenant`]). The
//! routes are in [`api`]; `GET /openapi.json` describes them.

pub mod api;
mod error;
pub mod tenant;
pub mod tenants;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use crate::backend::docker::DockerBackend;
use crate::policy::Policy;
use crate::session;
use crate::wasm::Runtime;

pub use error::ApiError;
pub use tenant::Tenant;
pub use tenants::{Quota, TenantConfig, TenantsError};

/// What every request handler reaches.
pub struct ServerState {
    pub runtime: Arc<Runtime>,
    pub tenants: Vec<Arc<Tenant>>,
}

/// A server, ready to accept connections.
pub struct Server {
    state: Arc<ServerState>,
}

impl Server {
    /// A server for `tenants`, keeping plugins and exec caches under `data_dir`.
    pub fn new(runtime: Arc<Runtime>, tenants: Vec<TenantConfig>, data_dir: &Path) -> Server {
        let backend = |policy: &Policy| {
            Arc::new(
                DockerBackend::new()
                    .with_request_timeout(policy.engine.timeout)
                    .with_container_limits(policy.containers.clone()),
            )
        };
        // One session id for every tenant: its labels mark what this server
        // made; each tenant's own network and service manager keep them apart.
        let session_id = session::new_id();
        let tenants = tenants
            .into_iter()
            .map(|config| {
                let engine = backend(&config.policy);
                Arc::new(Tenant::new(config, engine, &session_id, data_dir))
            })
            .collect();
        Server {
            state: Arc::new(ServerState { runtime, tenants }),
        }
    }

    /// Serves on `listener` until `shutdown` resolves, lets the calls in
    /// flight finish, then removes every container and network the tenants made.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = axum::serve(listener, api::router(self.state.clone()))
            .with_graceful_shutdown(shutdown)
            .await;
        for tenant in &self.state.tenants {
            tenant.shut_down().await;
        }
        served
    }
}

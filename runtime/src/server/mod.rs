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
use std::time::Duration;

use crate::backend::docker::DockerBackend;
use crate::policy::Policy;
use crate::session;
use crate::wasm::Runtime;

pub use error::ApiError;
pub use tenant::Tenant;
pub use tenants::{Quota, TenantConfig, TenantsError};

/// How a server's teardown went, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Teardown {
    /// Every container and network the tenants made is removed.
    Complete,
    /// Every container is removed, but the engine keeps a stale endpoint on
    /// a tenant network, which blocks its removal until the engine restarts.
    StaleNetwork,
    /// The engine refused to remove something; the log says what.
    Incomplete,
}

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
    ///
    /// Calls end by their deadline; a request that is not a call (an upload
    /// whose client stalls) is given as long, then left, so a stuck client
    /// cannot keep the server from tearing down.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Teardown> {
        let (signalled, signal) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled.send(());
        };
        let grace = self.grace();
        let serving = axum::serve(listener, api::router(self.state.clone()))
            .with_graceful_shutdown(shutdown)
            .into_future();
        let served = tokio::select! {
            served = serving => served,
            () = async {
                if signal.await.is_err() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "requests still in flight after the grace period; stopping without them");
                Ok(())
            }
        };
        let mut teardown = Teardown::Complete;
        for tenant in &self.state.tenants {
            teardown = teardown.max(tenant.shut_down().await);
        }
        served.map(|()| teardown)
    }

    /// How long requests in flight may run on after the shutdown signal: the
    /// longest call deadline of any tenant, and a little more.
    fn grace(&self) -> Duration {
        let longest = self
            .state
            .tenants
            .iter()
            .map(|tenant| tenant.host().policy.limits.timeout)
            .max()
            .unwrap_or_default();
        longest + Duration::from_secs(5)
    }
}

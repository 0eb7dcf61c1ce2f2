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

use crate::backend::ContainerBackend;
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
    /// A server for `tenants` on the engine `backend`, keeping plugins and
    /// exec caches under `data_dir`. Every tenant shares the one backend;
    /// each tenant's session holds its containers to that tenant's limits.
    pub fn new(
        runtime: Arc<Runtime>,
        tenants: Vec<TenantConfig>,
        data_dir: &Path,
        backend: Arc<dyn ContainerBackend>,
    ) -> Server {
        // One session id for every tenant: its labels mark what this server
        // made; each tenant's own network and service manager keep them apart.
        let session_id = session::new_id();
        let tenants = tenants
            .into_iter()
            .map(|config| Arc::new(Tenant::new(config, backend.clone(), &session_id, data_dir)))
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
        let teardown = self.tear_down().await;
        served.map(|()| teardown)
    }

    /// Removes every container the server made, then each tenant's network.
    ///
    /// A container whose removal another task began (a service's grace stop)
    /// can still hold an endpoint when the session's end returns; the engine
    /// then refuses the network, so both are tried again for a few seconds.
    async fn tear_down(&self) -> Teardown {
        const ATTEMPTS: u32 = 20;
        // Every tenant's session has the server's id: ending one ends all.
        let Some(session) = self.state.tenants.first().map(|t| t.session().clone()) else {
            return Teardown::Complete;
        };
        let mut networks: Vec<&Arc<Tenant>> = self.state.tenants.iter().collect();
        let mut attempt = 1;
        loop {
            let containers = session.end().await;
            if let Err(e) = &containers {
                tracing::warn!(error = %e, "could not remove the tenants' containers");
            }
            let mut refused = Vec::new();
            for tenant in networks {
                if let Err(e) = tenant.remove_network().await {
                    refused.push((tenant, e));
                }
            }
            if refused.is_empty() {
                return if containers.is_ok() {
                    Teardown::Complete
                } else {
                    Teardown::Incomplete
                };
            }
            if attempt < ATTEMPTS {
                tracing::debug!(
                    networks = refused.len(),
                    "tenant networks still in use; trying again"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
                networks = refused.into_iter().map(|(tenant, _)| tenant).collect();
                attempt += 1;
                continue;
            }
            let mut teardown = Teardown::StaleNetwork;
            for (tenant, e) in refused {
                // Docker 20.10 can keep the endpoint of a container it has
                // removed, after heavy churn on one network: with every
                // container gone, that is the only thing holding it.
                if containers.is_ok() && e.to_string().contains("has active endpoints") {
                    tracing::warn!(tenant = %tenant.name, error = %e, "the engine keeps a stale endpoint on the tenant's network; it goes when the engine restarts");
                } else {
                    tracing::warn!(tenant = %tenant.name, error = %e, "could not remove the tenant's network");
                    teardown = Teardown::Incomplete;
                }
            }
            return teardown;
        }
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

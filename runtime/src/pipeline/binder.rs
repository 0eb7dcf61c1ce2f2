use async_trait::async_trait;

use super::Error;
use crate::spec::ServiceSpec;

/// Starts the services a step binds, and keeps them running while the step runs.
#[async_trait]
pub trait ServiceBinder: Send + Sync {
    /// Starts (or shares) each bound service and waits until all are healthy.
    async fn bind(&self, bindings: &[(String, ServiceSpec)]) -> Result<BoundServices, Error>;
}

/// Running services bound into one container; dropping it releases them.
#[derive(Default)]
pub struct BoundServices {
    /// The network the services are on; `None` when nothing is bound.
    pub network: Option<String>,
    /// `(alias, ip)` for each binding.
    pub hosts: Vec<(String, String)>,
    /// The service containers, in binding order.
    pub containers: Vec<String>,
    /// Their hostnames, in the same order.
    pub hostnames: Vec<String>,
    /// Whatever keeps the services running (leases); released on drop.
    pub holds: Vec<Box<dyn Send + Sync>>,
}

impl BoundServices {
    /// The hostname of a bound service container, for messages.
    pub fn name_of(&self, container: &str) -> String {
        self.containers
            .iter()
            .position(|c| c == container)
            .and_then(|i| self.hostnames.get(i).cloned())
            .unwrap_or_else(|| container.to_string())
    }
}

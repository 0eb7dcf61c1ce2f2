use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};
use std::time::Duration;

use tracing::{debug, instrument};

use super::{DockerBackend, is_not_found};
use crate::backend::{Error, LABEL_SESSION};

impl DockerBackend {
    #[instrument(skip(self), err(level = "debug"))]
    pub(super) async fn remove_session_objects_impl(&self, session: &str) -> Result<(), Error> {
        if self.client.get().is_none() {
            // Never connected, so this process made nothing.
            return Ok(());
        }
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_SESSION}={session}")],
        )]);
        let containers = self
            .request(
                "listing the session's containers",
                self.client()
                    .await?
                    .list_containers(Some(ListContainersOptions {
                        all: true,
                        filters: Some(filters.clone()),
                        ..Default::default()
                    })),
            )
            .await?;
        let removals = containers
            .iter()
            .filter_map(|c| c.id.as_deref())
            .map(|id| self.remove_container(id));
        futures_util::future::join_all(removals).await;

        let networks = self
            .request(
                "listing the session's networks",
                self.client()
                    .await?
                    .list_networks(Some(ListNetworksOptions {
                        filters: Some(filters),
                    })),
            )
            .await?;
        for network in networks.iter().filter_map(|n| n.id.as_deref()) {
            self.remove_network(network).await?;
        }
        Ok(())
    }

    /// Removes a network; one that is already gone counts as removed.
    ///
    /// The engine detaches a removed container's endpoint a moment after the
    /// removal returns, so "has active endpoints" is retried a few times.
    async fn remove_network(&self, network: &str) -> Result<(), Error> {
        let docker = self.client().await?;
        let mut delay = Duration::from_millis(20);
        let mut attempts = 0;
        loop {
            match docker.remove_network(network).await {
                Ok(()) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 403,
                    message,
                }) if message.contains("active endpoints") && attempts < 8 => {
                    debug!(network, attempts, "network still has endpoints; retrying");
                    attempts += 1;
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(self.error(format!("removing network {network}"), e)),
            }
        }
    }
}

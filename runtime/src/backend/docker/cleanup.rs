use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};
use tracing::instrument;

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
            match self.client().await?.remove_network(network).await {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(self.error(format!("removing network {network}"), e)),
            }
        }
        Ok(())
    }
}

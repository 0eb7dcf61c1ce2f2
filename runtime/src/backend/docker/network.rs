//! The networks services and their clients join, and what the backend
//! learns about each: its subnets, how berth reaches it, its relay.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::models::{Ipam, Network, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use tokio::sync::OnceCell;
use tracing::instrument;

use super::DockerBackend;
use super::reach::Reach;
use crate::backend::{Error, LABEL_KIND, Labels, NetworkInfo};
use crate::lock;

/// The name under which Docker and Podman both answer for their default
/// network (Podman's is called `podman`, and answers to `bridge` when
/// inspected, though not when listed by name).
const DEFAULT_NETWORK: &str = "bridge";

/// What the backend knows about one network it has handed out.
pub(super) struct NetworkState {
    pub info: NetworkInfo,
    /// Its IPv4 and IPv6 subnets, as its IPAM configuration states them
    /// (a first-start Docker states a subnet but no gateway).
    pub subnets: Vec<ipnet::IpNet>,
    /// What berth makes for the network (its relay, forwarders) carries these.
    pub labels: Labels,
    /// How berth reaches the network's containers, decided on first need.
    pub reach: OnceCell<Reach>,
    /// The relay container on the network, started on first need.
    pub relay: tokio::sync::Mutex<Option<String>>,
    /// Where its containers reach this host through a forwarder, found on first need.
    pub host_route: OnceCell<crate::backend::HostRoute>,
}

impl DockerBackend {
    #[instrument(skip(self, labels), err(level = "debug"))]
    pub(super) async fn default_network_impl(&self, labels: &Labels) -> Result<NetworkInfo, Error> {
        let network = self
            .request("inspecting the engine's default network", |docker| {
                docker.inspect_network(DEFAULT_NETWORK, None::<InspectNetworkOptions>)
            })
            .await?;
        Ok(self.remember(network.id, network.name, network.ipam, labels))
    }

    #[instrument(skip(self, labels), err(level = "debug"))]
    pub(super) async fn ensure_network_impl(
        &self,
        name: &str,
        labels: &Labels,
    ) -> Result<NetworkInfo, Error> {
        if let Some(network) = self.network_named(name).await? {
            return Ok(self.remember(network.id, network.name, network.ipam, labels));
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.with(LABEL_KIND, "network").to_map()),
            ..Default::default()
        };
        let created = self
            .request(format!("creating network {name}"), |docker| {
                docker.create_network(request.clone())
            })
            .await?;
        // The engine allows two networks of one name: when processes race to
        // create it, all of them settle on the same one and drop the rest.
        let chosen = self
            .network_named(name)
            .await?
            .ok_or_else(|| Error::Engine {
                action: format!("creating network {name}"),
                status: 0,
                message: "the network is not listed after its creation".into(),
            })?;
        if chosen.id.as_deref() != Some(created.id.as_str()) {
            let removed = self
                .request(format!("removing a second network {name}"), |docker| {
                    docker.remove_network(&created.id)
                })
                .await;
            if let Err(e) = removed {
                tracing::warn!(network = %created.id, error = %e, "could not remove a duplicate network");
            }
        }
        Ok(self.remember(chosen.id, chosen.name, chosen.ipam, labels))
    }

    pub(super) async fn remove_network_impl(&self, name: &str) -> Result<(), Error> {
        let removed = self
            .request(format!("removing network {name}"), |docker| {
                docker.remove_network(name)
            })
            .await;
        lock(&self.networks).retain(|_, state| state.info.name != name);
        match removed {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// The network called exactly `name`, the one with the smallest id when
    /// there are several.
    async fn network_named(&self, name: &str) -> Result<Option<Network>, Error> {
        let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
        let mut networks: Vec<Network> = self
            .request(format!("listing networks named {name}"), |docker| {
                docker.list_networks(Some(ListNetworksOptions {
                    filters: Some(filters.clone()),
                }))
            })
            .await?
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .collect();
        networks.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(networks.into_iter().next())
    }

    /// Keeps what the engine said of a network, and hands out its identity.
    fn remember(
        &self,
        id: Option<String>,
        name: Option<String>,
        ipam: Option<Ipam>,
        labels: &Labels,
    ) -> NetworkInfo {
        let info = NetworkInfo {
            id: id.unwrap_or_default(),
            name: name.unwrap_or_default(),
        };
        let subnets = ipam
            .and_then(|ipam| ipam.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|config| config.subnet?.parse().ok())
            .collect();
        lock(&self.networks)
            .entry(info.id.clone())
            .or_insert_with(|| {
                Arc::new(NetworkState {
                    info: info.clone(),
                    subnets,
                    labels: labels.clone(),
                    reach: OnceCell::new(),
                    relay: tokio::sync::Mutex::new(None),
                    host_route: OnceCell::new(),
                })
            });
        info
    }

    /// What the backend knows of the network with id `id`.
    pub(super) fn network_state(&self, id: &str) -> Result<Arc<NetworkState>, Error> {
        lock(&self.networks)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::Engine {
                action: format!("reaching network {id}"),
                status: 0,
                message: "berth did not set this network up in this process".into(),
            })
    }
}

//! Removing containers: one at a time, all of a session, and those whose
//! owning berth process is gone.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use futures_util::future::join_all;
use tracing::{debug, instrument, warn};

use super::{DockerBackend, is_not_found};
use crate::backend::{Error, LABEL_MANAGED, LABEL_PID, LABEL_SESSION};

impl DockerBackend {
    /// Removes a container; one that is already gone counts as removed.
    pub(super) async fn remove_container(&self, id: &str) {
        if let Ok(docker) = self.client().await {
            remove(docker, id).await;
        }
    }

    #[instrument(skip(self), err(level = "debug"))]
    pub(super) async fn remove_session_containers_impl(&self, session: &str) -> Result<(), Error> {
        if self.client.get().is_none() {
            // Never connected, so this process made nothing.
            return Ok(());
        }
        let docker = self.client().await?;
        let containers = self
            .request(
                "listing the session's containers",
                labelled_containers(docker, &format!("{LABEL_SESSION}={session}")),
            )
            .await?;
        join_all(
            containers
                .iter()
                .filter_map(|c| c.id.as_deref())
                .map(|id| remove(docker, id)),
        )
        .await;
        Ok(())
    }
}

/// Whether the process that owns an object still runs on this host.
pub fn owner_alive(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(pid) => std::path::Path::new(&format!("/proc/{pid}")).exists(),
        // An owner we cannot name is not reaped.
        Err(_) => true,
    }
}

/// Removes every berth container whose owning process is gone; returns how many.
pub(super) async fn remove_orphan_containers(docker: &Docker) -> usize {
    let containers = match labelled_containers(docker, &format!("{LABEL_MANAGED}=true")).await {
        Ok(containers) => containers,
        Err(e) => {
            warn!(error = %e, "could not list containers to reap orphans");
            return 0;
        }
    };
    let orphans = containers
        .iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|labels| labels.get(LABEL_PID))
                .is_some_and(|pid| !owner_alive(pid))
        })
        .filter_map(|c| c.id.as_deref());
    let removed = join_all(orphans.map(|id| remove(docker, id)))
        .await
        .into_iter()
        .filter(|removed| *removed)
        .count();
    if removed > 0 {
        debug!(removed, "removed containers of dead berth processes");
    }
    removed
}

/// Every container, running or not, that carries `label` (`key=value`).
async fn labelled_containers(
    docker: &Docker,
    label: &str,
) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
}

/// Force-removes a container and its anonymous volumes; whether it is gone now.
async fn remove(docker: &Docker, id: &str) -> bool {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => true,
        Err(e) if is_not_found(&e) => true,
        Err(e) => {
            warn!(container = id, error = %e, "could not remove a container");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::owner_alive;

    #[test]
    fn this_process_is_alive_and_a_huge_pid_is_not() {
        assert!(owner_alive(&std::process::id().to_string()));
        assert!(!owner_alive("4194304999"));
        assert!(owner_alive("not-a-pid"));
    }
}

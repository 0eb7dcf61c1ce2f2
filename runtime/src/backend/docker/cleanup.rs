//! Removing what berth made: one container, all of a session, and what
//! berth processes that are gone left behind.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::ImageSummary;
use bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, RemoveContainerOptions, RemoveImageOptions,
};
use futures_util::future::join_all;
use tracing::{debug, instrument, warn};

use super::{DockerBackend, Reaped};
use crate::backend::{
    Error, LABEL_HOST, LABEL_MANAGED, LABEL_OWNER, LABEL_PID, LABEL_SESSION, Owner, OwnerStatus,
    RemoveOnDrop,
};

impl DockerBackend {
    /// Removes a container; one that is already gone counts as removed.
    pub(super) async fn remove_container(&self, id: &str) {
        if let Ok(docker) = self.client().await {
            self.remove_with(docker, id).await;
        }
    }

    /// A guard that removes container `id` if the work using it is abandoned
    /// before [`RemoveOnDrop::disarm`].
    pub(super) fn remove_on_drop(&self, id: &str) -> RemoveOnDrop {
        let (docker, id, timeout) = (
            self.client.get().cloned(),
            id.to_string(),
            self.request_timeout,
        );
        RemoveOnDrop::new(async move {
            let Some(docker) = docker else { return };
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            match tokio::time::timeout(timeout, docker.remove_container(&id, Some(options))).await {
                Ok(Ok(())) => debug!(container = id, "removed an abandoned container"),
                Ok(Err(e)) => {
                    warn!(container = id, error = %e, "could not remove an abandoned container")
                }
                Err(_) => warn!(container = id, "removing an abandoned container timed out"),
            }
        })
    }

    #[instrument(skip(self), err(level = "debug"))]
    pub(super) async fn remove_session_impl(&self, session: &str) -> Result<(), Error> {
        if self.client.get().is_none() {
            // Never connected, so this process made nothing.
            return Ok(());
        }
        let docker = self.client().await?;
        let label = format!("{LABEL_SESSION}={session}");
        let containers = self.labelled_containers(docker, &label).await?;
        join_all(containers.iter().map(|id| self.remove_with(docker, id))).await;
        self.forget_relays(session).await;
        // After the containers, which may have used them.
        for image in self.untagged_images(docker, &label).await? {
            self.remove_image_with(docker, &image).await;
        }
        Ok(())
    }

    /// Forgets the relays of `session`'s networks, which its end removed.
    async fn forget_relays(&self, session: &str) {
        let networks: Vec<_> = crate::lock(&self.networks).values().cloned().collect();
        for network in networks {
            if network.labels.get(LABEL_SESSION) == Some(session) {
                *network.relay.lock().await = None;
            }
        }
    }

    /// Removes every berth container whose owning process is gone (as far
    /// as `reach` lets this process judge), then every berth image such a
    /// process left that no exec cache keeps (an image a cache keeps
    /// carries a tag; see `keep_image`).
    #[instrument(skip(self, docker))]
    pub(super) async fn reap_orphans(&self, docker: &Docker, reach: ReapReach) -> Reaped {
        let containers = match self.orphans(docker, Object::Container, reach).await {
            Ok(orphans) => join_all(orphans.iter().map(|id| self.remove_with(docker, id)))
                .await
                .into_iter()
                .filter(|removed| *removed)
                .count(),
            Err(e) => {
                warn!(error = %e, "could not list containers to reap orphans");
                0
            }
        };
        // After the containers, which may have used the images.
        let images = match self.orphans(docker, Object::Image, reach).await {
            Ok(orphans) => {
                let mut removed = 0;
                for id in orphans {
                    if self.remove_image_with(docker, &id).await {
                        removed += 1;
                    }
                }
                removed
            }
            Err(e) => {
                warn!(error = %e, "could not list images to reap orphans");
                0
            }
        };
        let reaped = Reaped { containers, images };
        if reaped != Reaped::default() {
            debug!(?reaped, "removed what dead berth processes left");
        }
        reaped
    }

    /// The ids of berth objects whose owner is gone (for images: untagged ones only).
    async fn orphans(
        &self,
        docker: &Docker,
        object: Object,
        reach: ReapReach,
    ) -> Result<Vec<String>, Error> {
        let managed = format!("{LABEL_MANAGED}=true");
        let labelled: Vec<(String, HashMap<String, String>)> = match object {
            Object::Container => {
                let filters = HashMap::from([("label".to_string(), vec![managed])]);
                self.send(docker, "listing berth containers", |docker| {
                    docker.list_containers(Some(ListContainersOptions {
                        all: true,
                        filters: Some(filters.clone()),
                        ..Default::default()
                    }))
                })
                .await?
                .into_iter()
                .filter_map(|c| Some((c.id?, c.labels?)))
                .collect()
            }
            Object::Image => self
                .untagged(docker, &managed)
                .await?
                .into_iter()
                .map(|image| (image.id, image.labels))
                .collect(),
        };
        Ok(labelled
            .into_iter()
            .filter(|(_, labels)| reach.reaps(labels))
            .map(|(id, _)| id)
            .collect())
    }

    /// The ids of the untagged images that carry `label` (`key=value`).
    async fn untagged_images(&self, docker: &Docker, label: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .untagged(docker, label)
            .await?
            .into_iter()
            .map(|image| image.id)
            .collect())
    }

    /// Untagged (dangling) images that carry `label`: no exec cache keeps them.
    async fn untagged(&self, docker: &Docker, label: &str) -> Result<Vec<ImageSummary>, Error> {
        let filters = HashMap::from([
            ("label".to_string(), vec![label.to_string()]),
            ("dangling".to_string(), vec!["true".to_string()]),
        ]);
        self.send(
            docker,
            format!("listing untagged images labelled {label}"),
            |docker| {
                docker.list_images(Some(ListImagesOptions {
                    filters: Some(filters.clone()),
                    ..Default::default()
                }))
            },
        )
        .await
    }

    /// The ids of every container, running or not, that carries `label` (`key=value`).
    async fn labelled_containers(
        &self,
        docker: &Docker,
        label: &str,
    ) -> Result<Vec<String>, Error> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let containers = self
            .send(
                docker,
                format!("listing containers labelled {label}"),
                |docker| {
                    docker.list_containers(Some(ListContainersOptions {
                        all: true,
                        filters: Some(filters.clone()),
                        ..Default::default()
                    }))
                },
            )
            .await?;
        Ok(containers.into_iter().filter_map(|c| c.id).collect())
    }

    /// Force-removes a container and its anonymous volumes; whether it is gone now.
    async fn remove_with(&self, docker: &Docker, id: &str) -> bool {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        let removed = self
            .send(docker, format!("removing container {id}"), |docker| {
                docker.remove_container(id, Some(options.clone()))
            })
            .await;
        match removed {
            Ok(()) => true,
            Err(e) if e.is_not_found() => true,
            Err(e) => {
                warn!(container = id, error = %e, "could not remove a container");
                false
            }
        }
    }

    /// Removes an image (and the untagged parents only it used); whether it is gone now.
    pub(super) async fn remove_image_with(&self, docker: &Docker, image: &str) -> bool {
        let removed = self
            .send(docker, format!("removing image {image}"), |docker| {
                docker.remove_image(image, None::<RemoveImageOptions>, None)
            })
            .await;
        match removed {
            Ok(_) => true,
            Err(e) if e.is_not_found() => true,
            Err(e) => {
                debug!(%image, error = %e, "image kept");
                false
            }
        }
    }
}

/// What kind of engine object to look for.
#[derive(Clone, Copy)]
enum Object {
    Container,
    Image,
}

/// Whose objects a reaper removes, besides those of dead owners of its own
/// host and pid namespace, which it always removes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReapReach {
    /// Objects labelled by berth before owners were named (`berth.pid`
    /// only): removed when that pid does not run here. `berth gc` does; the
    /// sweep on connecting does not, since such a pid may be another host's.
    pub legacy: bool,
    /// Objects of owners this process cannot check (another host, another
    /// pid namespace): removed whether or not they run (`berth gc --foreign`).
    pub foreign: bool,
}

impl ReapReach {
    /// What `berth gc` removes: dead owners', and legacy objects of pids gone here.
    pub const GC: ReapReach = ReapReach {
        legacy: true,
        foreign: false,
    };

    /// Whether an object with `labels` is to be removed.
    fn reaps(&self, labels: &HashMap<String, String>) -> bool {
        match (labels.get(LABEL_HOST), labels.get(LABEL_OWNER)) {
            (Some(host), Some(owner)) => match Owner::status(host, owner) {
                OwnerStatus::Alive => false,
                OwnerStatus::Dead => true,
                OwnerStatus::Foreign => self.foreign,
            },
            _ => {
                self.foreign
                    || (self.legacy
                        && labels
                            .get(LABEL_PID)
                            .and_then(|pid| pid.parse::<u32>().ok())
                            .is_some_and(|pid| {
                                !std::path::Path::new(&format!("/proc/{pid}")).exists()
                            }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_live_owner_is_kept_by_every_reach() {
        let this = Owner::this();
        let ours = labels(&[(LABEL_HOST, &this.host), (LABEL_OWNER, &this.process)]);
        let everything = ReapReach {
            legacy: true,
            foreign: true,
        };
        assert!(!everything.reaps(&ours));
    }

    #[test]
    fn another_hosts_objects_go_only_when_the_operator_says() {
        let theirs = labels(&[(LABEL_HOST, "elsewhere"), (LABEL_OWNER, "b/1/2/3")]);
        assert!(!ReapReach::default().reaps(&theirs));
        assert!(!ReapReach::GC.reaps(&theirs));
        assert!(
            ReapReach {
                foreign: true,
                ..ReapReach::GC
            }
            .reaps(&theirs)
        );
    }

    #[test]
    fn legacy_objects_of_a_pid_gone_here_go_with_gc_not_the_sweep() {
        let gone = labels(&[(LABEL_PID, "4194304999")]);
        let running = labels(&[(LABEL_PID, &std::process::id().to_string())]);
        assert!(!ReapReach::default().reaps(&gone));
        assert!(ReapReach::GC.reaps(&gone));
        assert!(!ReapReach::GC.reaps(&running));
    }
}

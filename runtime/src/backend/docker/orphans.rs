//! Reaping what dead berth processes left behind.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptions, RemoveContainerOptions, RemoveImageOptions,
};
use tracing::{debug, warn};

use super::is_not_found;
use crate::backend::{ImageId, LABEL_MANAGED, LABEL_PID};

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
    let filters = HashMap::from([("label".to_string(), vec![format!("{LABEL_MANAGED}=true")])]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let containers = match docker.list_containers(Some(options)).await {
        Ok(containers) => containers,
        Err(e) => {
            warn!(error = %e, "could not list containers to reap orphans");
            return 0;
        }
    };
    let orphans: Vec<String> = containers
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|labels| labels.get(LABEL_PID))
                .is_some_and(|pid| !owner_alive(pid))
        })
        .filter_map(|c| c.id)
        .collect();
    let removals = orphans.iter().map(|id| async move {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(id, Some(options)).await {
            Ok(()) => true,
            Err(e) => {
                debug!(container = %id, error = %e, "could not remove an orphan");
                false
            }
        }
    });
    let removed = futures_util::future::join_all(removals)
        .await
        .into_iter()
        .filter(|removed| *removed)
        .count();
    if removed > 0 {
        debug!(removed, "removed containers of dead berth processes");
    }
    removed
}

/// Removes the given images where no container uses them; returns how many went.
pub(super) async fn remove_images(docker: &Docker, images: &[ImageId]) -> usize {
    // Snapshots stack on each other, and a parent goes only after its
    // children: pass over the rest until a pass removes nothing.
    let mut left: Vec<&str> = images.iter().map(|image| image.0.as_str()).collect();
    let mut removed = 0;
    loop {
        let before = left.len();
        let mut kept = Vec::new();
        for id in left {
            match docker
                .remove_image(id, None::<RemoveImageOptions>, None)
                .await
            {
                Ok(_) => removed += 1,
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    debug!(image = %id, error = %e, "image kept for now");
                    kept.push(id);
                }
            }
        }
        if kept.is_empty() || kept.len() == before {
            return removed;
        }
        left = kept;
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

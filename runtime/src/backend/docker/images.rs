use bollard::models::ImageInspect;
use bollard::query_parameters::{CreateImageOptions, TagImageOptions};
use futures_util::StreamExt;
use tracing::{debug, instrument};

use super::DockerBackend;
use crate::backend::{Error, ImageId, KeptImage, ProgressSink, reference};

impl DockerBackend {
    #[instrument(skip(self, progress), err(level = "debug"))]
    pub(super) async fn resolve_image_impl(
        &self,
        reference: &str,
        progress: &dyn ProgressSink,
    ) -> Result<ImageId, Error> {
        if reference::is_image_id(reference) {
            return Err(Error::ImageNotFound {
                reference: reference.to_string(),
                message:
                    "an image id is not an image address: name the image by repository and tag"
                        .into(),
            });
        }
        if let Some(id) = self.named_image_id(reference).await? {
            return Ok(id);
        }
        self.pull(reference, progress).await?;
        self.named_image_id(reference)
            .await?
            .ok_or_else(|| Error::ImageNotFound {
                reference: reference.to_string(),
                message: "the pull finished but the engine does not list the image".into(),
            })
    }

    pub(super) async fn image_exists_impl(&self, image: &ImageId) -> Result<bool, Error> {
        Ok(self.local_image_id(&image.0).await?.is_some())
    }

    /// Tags `image` so that orphan reaping leaves it to the exec cache.
    pub(super) async fn keep_image_impl(
        &self,
        image: &ImageId,
        kept: &KeptImage,
    ) -> Result<ImageId, Error> {
        let name = format!("{}:{}", kept.repository, kept.tag);
        if let Some(existing) = self.local_image_id(&name).await?
            && existing != *image
        {
            // Ours is of this process alone: its step container is gone.
            self.remove_image_with(self.client().await?, &image.0).await;
            return Ok(existing);
        }
        let options = TagImageOptions {
            repo: Some(kept.repository.clone()),
            tag: Some(kept.tag.clone()),
        };
        self.request(format!("tagging {} as {name}", image.0), |docker| {
            docker.tag_image(&image.0, Some(options.clone()))
        })
        .await?;
        Ok(image.clone())
    }

    /// Removes images that no container uses (exec-cache snapshots); returns how many went.
    pub async fn remove_images(&self, images: &[ImageId]) -> Result<usize, Error> {
        let docker = self.client().await?;
        // Snapshots stack on each other, and a parent goes only after its
        // children: pass over the rest until a pass removes nothing.
        let mut left: Vec<&str> = images.iter().map(|image| image.0.as_str()).collect();
        let mut removed = 0;
        loop {
            let before = left.len();
            let mut kept = Vec::new();
            for id in left {
                if self.local_image_id(id).await?.is_none() {
                    continue;
                }
                if self.remove_image_with(docker, id).await {
                    removed += 1;
                } else {
                    kept.push(id);
                }
            }
            if kept.is_empty() || kept.len() == before {
                return Ok(removed);
            }
            left = kept;
        }
    }

    /// The id of the image that `reference` names, if the engine has it.
    ///
    /// Where a name is asked for, an engine also takes an id prefix: Docker
    /// answers `0123456789ab` with any image whose id starts so, when no
    /// image is named that. Such an answer does not list the name among the
    /// image's tags and digests, and is not taken.
    async fn named_image_id(&self, reference: &str) -> Result<Option<ImageId>, Error> {
        let Some(image) = self.inspect_image(reference).await? else {
            return Ok(None);
        };
        let known = image
            .repo_tags
            .iter()
            .flatten()
            .chain(image.repo_digests.iter().flatten())
            .map(String::as_str);
        Ok(reference::names(reference, known)
            .then_some(image.id)
            .flatten()
            .map(ImageId))
    }

    /// The id of the image the engine finds at `reference`: a name, or an id.
    async fn local_image_id(&self, reference: &str) -> Result<Option<ImageId>, Error> {
        Ok(self
            .inspect_image(reference)
            .await?
            .and_then(|image| image.id)
            .map(ImageId))
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInspect>, Error> {
        let inspected = self
            .request(format!("inspecting image {reference}"), |docker| {
                docker.inspect_image(reference)
            })
            .await;
        match inspected {
            Ok(image) => Ok(Some(image)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[instrument(skip(self, progress), err(level = "debug"))]
    async fn pull(&self, reference: &str, progress: &dyn ProgressSink) -> Result<(), Error> {
        let (image, tag) = split_tag(reference);
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            tag: tag.map(str::to_string),
            ..Default::default()
        };
        let task = progress.begin(&format!("pulling {reference}"));
        let mut stream = self.client().await?.create_image(Some(options), None, None);
        loop {
            // A pull may take long, but the engine reports progress often.
            let Ok(next) = tokio::time::timeout(self.request_timeout, stream.next()).await else {
                task.finish("failed");
                return Err(Error::EngineTimeout {
                    endpoint: self.endpoint.clone(),
                    action: format!("pulling {reference}"),
                    seconds: self.request_timeout.as_secs(),
                });
            };
            let Some(event) = next else {
                break;
            };
            match event {
                Ok(info) => {
                    if let Some(message) = info.error_detail.and_then(|d| d.message) {
                        task.finish("failed");
                        return Err(Error::ImageNotFound {
                            reference: reference.to_string(),
                            message,
                        });
                    }
                    let bytes = info
                        .progress_detail
                        .and_then(|d| Some((d.current?, d.total?)));
                    let status = match (info.id, info.status, bytes) {
                        (Some(id), Some(status), Some((done, total))) => {
                            format!("{id}: {status} {}/{} MB", done >> 20, total >> 20)
                        }
                        (id, status, _) => [id, status]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(": "),
                    };
                    debug!(%status, "pull");
                    task.update(&status);
                }
                Err(e) => {
                    task.finish("failed");
                    return Err(match self.error(format!("pulling {reference}"), e) {
                        Error::Engine { message, .. } => Error::ImageNotFound {
                            reference: reference.to_string(),
                            message,
                        },
                        other => other,
                    });
                }
            }
        }
        task.finish("pulled");
        Ok(())
    }
}

/// `repo:tag` -> (`repo`, `tag`); a digest or a registry port is not a tag.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn tags_split_but_ports_do_not() {
        assert_eq!(split_tag("busybox:1.36"), ("busybox", Some("1.36")));
        assert_eq!(
            split_tag("localhost:5000/busybox"),
            ("localhost:5000/busybox", None)
        );
        assert_eq!(split_tag("a@sha256:00"), ("a@sha256:00", None));
    }
}

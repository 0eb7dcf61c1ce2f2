use bollard::container::LogOutput;

use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CommitContainerOptions, DownloadFromContainerOptions, LogsOptions, UploadToContainerOptions,
};
use futures_util::StreamExt;
use tracing::instrument;

use super::DockerBackend;
use super::archive::{ArchiveEntry, files_to_tar, first_entry};
use crate::backend::{
    ContainerLimits, Error, ImageId, LABEL_KIND, Labels, ServiceNetwork, StepOutput, StepRun,
    is_exec_failure,
};
use crate::spec::{NewFile, RunConfig, absolute_path};

/// How many symbolic links `file` follows before giving up (a loop, most likely).
const MAX_SYMLINK_HOPS: usize = 16;

/// Where a symbolic link at `path` with `target` points.
fn resolve_link(path: &str, target: &str) -> String {
    let directory = path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
    absolute_path(Some(directory), target)
}

/// The most of a command's output (stdout and stderr together) berth keeps:
/// the output lives in memory, in the exec cache and in the guest.
const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// The largest file `file` reads out of a container.
const MAX_FILE_BYTES: usize = 256 << 20;

/// A command's output as it is read, up to [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The stream that passed the limit, whose text says so.
    cut: Option<bool>,
}

impl Output {
    /// Adds a chunk; false once the limit is reached and reading should stop.
    fn add(&mut self, chunk: LogOutput) -> bool {
        let (message, is_stdout) = match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => (message, true),
            LogOutput::StdErr { message } => (message, false),
            LogOutput::StdIn { .. } => return true,
        };
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.stdout.len() + self.stderr.len());
        let stream = if is_stdout {
            &mut self.stdout
        } else {
            &mut self.stderr
        };
        stream.extend_from_slice(&message[..message.len().min(room)]);
        if message.len() > room {
            self.cut = Some(is_stdout);
            return false;
        }
        true
    }

    /// stdout and stderr as text.
    fn into_text(self) -> (String, String) {
        let note = format!(
            "\n[berth: the output passed {} MiB; the rest is not kept]\n",
            MAX_OUTPUT_BYTES >> 20
        );
        let text = |bytes: Vec<u8>, cut: bool| {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if cut {
                text.push_str(&note);
            }
            text
        };
        (
            text(self.stdout, self.cut == Some(true)),
            text(self.stderr, self.cut == Some(false)),
        )
    }
}

/// What a container is created with.
pub(super) struct Create<'a> {
    pub image: &'a ImageId,
    /// The command; the image's default when `None`.
    pub args: Option<Vec<String>>,
    pub config: &'a RunConfig,
    pub labels: &'a Labels,
    pub network: Option<&'a ServiceNetwork<'a>>,
    pub limits: &'a ContainerLimits,
}

/// The command of a container that is created only to copy files in or out; it never starts.
const NEVER_STARTED: &str = "/berth-container-is-never-started";

impl DockerBackend {
    #[instrument(skip_all, fields(args = ?step.args), err(level = "debug"))]
    pub(super) async fn run_step_impl(&self, step: &StepRun<'_>) -> Result<StepOutput, Error> {
        let labels = step.labels.with(LABEL_KIND, "step");
        let create = Create {
            image: step.image,
            args: Some(step.args.to_vec()),
            config: step.config,
            labels: &labels,
            network: step.network,
            limits: step.limits,
        };
        let id = self.create(&create).await?;
        let abandoned = self.remove_on_drop(&id);
        let result = self.run_created(&id, step).await;
        self.remove_container(&id).await;
        abandoned.disarm();
        result.map_err(|e| match e {
            e if e.is_not_found() => Error::ContainerRemoved {
                what: format!("step `{}`", step.args.join(" ")),
                container: id,
            },
            e => e,
        })
    }

    /// Copies files in, starts, waits, collects output, and snapshots on success.
    async fn run_created(&self, id: &str, step: &StepRun<'_>) -> Result<StepOutput, Error> {
        self.upload(id, step.files).await?;
        let started = self
            .request(format!("starting {}", step.args.join(" ")), |docker| {
                docker.start_container(id, None)
            })
            .await;
        match started {
            Ok(()) => {}
            // The command does not exist or cannot run: that is the command
            // failing (as a shell reports it), not the engine.
            Err(Error::Engine { message, .. }) if is_exec_failure(&message) => {
                return Ok(StepOutput {
                    exit_code: if message.contains("permission denied") {
                        126
                    } else {
                        127
                    },
                    stdout: String::new(),
                    stderr: message,
                    snapshot: None,
                });
            }
            Err(e) => return Err(e),
        }
        let dependencies = step.network.map(|n| n.dependencies).unwrap_or_default();
        let exit_code = if dependencies.is_empty() {
            self.wait(id).await?
        } else {
            tokio::select! {
                exit_code = self.wait(id) => exit_code?,
                (container, exit_code) = self.first_exit(dependencies) => {
                    return Err(Error::DependencyExited { container, exit_code });
                }
            }
        };
        let (stdout, stderr) = self.output(id).await?;
        let snapshot = if exit_code == 0 && step.snapshot {
            let labels = step.labels.with(LABEL_KIND, "snapshot");
            Some(self.commit(id, &labels).await?)
        } else {
            None
        };
        Ok(StepOutput {
            exit_code,
            stdout,
            stderr,
            snapshot,
        })
    }

    #[instrument(skip(self, files, labels), err(level = "debug"))]
    pub(super) async fn read_file_impl(
        &self,
        image: &ImageId,
        files: &[NewFile],
        path: &str,
        labels: &Labels,
    ) -> Result<Vec<u8>, Error> {
        let labels = labels.with(LABEL_KIND, "copy");
        let create = Create {
            image,
            args: Some(vec![NEVER_STARTED.to_string()]),
            config: &RunConfig::default(),
            labels: &labels,
            network: None,
            // Never started: nothing to hold.
            limits: &ContainerLimits::default(),
        };
        let id = self.create(&create).await?;
        let abandoned = self.remove_on_drop(&id);
        let result = async {
            self.upload(&id, files).await?;
            self.download(&id, path).await
        }
        .await;
        self.remove_container(&id).await;
        abandoned.disarm();
        result
    }

    pub(super) async fn create(&self, create: &Create<'_>) -> Result<String, Error> {
        let Create {
            image,
            config,
            labels,
            ..
        } = create;
        // Services and their clients find each other through host entries
        // (binding alias and hostname to address), not the network's DNS.
        let network = create.network.map(|network| HostConfig {
            network_mode: Some(network.network.to_string()),
            extra_hosts: Some(
                network
                    .hosts
                    .iter()
                    .map(|(alias, ip)| format!("{alias}:{ip}"))
                    .collect(),
            ),
            ..Default::default()
        });
        let host_config = Some(sandboxed(network.unwrap_or_default(), create.limits));
        let body = ContainerCreateBody {
            image: Some(image.0.clone()),
            cmd: create.args.clone(),
            host_config,
            entrypoint: config.entrypoint.clone(),
            env: Some(config.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: config.workdir.clone(),
            exposed_ports: Some(
                config
                    .exposed_ports
                    .iter()
                    .map(|p| format!("{}/{}", p.number, p.protocol.as_str()))
                    .collect(),
            ),
            labels: Some(labels.to_map()),
            ..Default::default()
        };
        let created = self
            .request("creating a container", |docker| {
                docker.create_container(None, body.clone())
            })
            .await?;
        Ok(created.id)
    }

    pub(super) async fn upload(&self, id: &str, files: &[NewFile]) -> Result<(), Error> {
        if files.is_empty() {
            return Ok(());
        }
        let tar = files_to_tar(files).map_err(|source| Error::Archive {
            action: "packing files".into(),
            source,
        })?;
        let options = UploadToContainerOptions {
            path: "/".to_string(),
            ..Default::default()
        };
        let tar = bytes::Bytes::from(tar);
        self.request("copying files into the container", |docker| {
            docker.upload_to_container(id, Some(options.clone()), bollard::body_full(tar.clone()))
        })
        .await
    }

    /// The contents of a file, following symbolic links (the engine's archive does not).
    async fn download(&self, id: &str, path: &str) -> Result<Vec<u8>, Error> {
        let mut current = path.to_string();
        for _ in 0..MAX_SYMLINK_HOPS {
            match self.download_entry(id, &current).await? {
                ArchiveEntry::File(contents) => return Ok(contents),
                ArchiveEntry::Directory => {
                    return Err(Error::NotAFile {
                        path: path.to_string(),
                    });
                }
                ArchiveEntry::Symlink(target) => current = resolve_link(&current, &target),
            }
        }
        Err(Error::FileNotFound {
            path: format!("{path} (more than {MAX_SYMLINK_HOPS} symbolic links)"),
        })
    }

    async fn download_entry(&self, id: &str, path: &str) -> Result<ArchiveEntry, Error> {
        let options = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let archive = self
            .request(format!("reading {path}"), |docker| {
                let mut chunks = docker.download_from_container(id, Some(options.clone()));
                async move {
                    let mut archive = Vec::new();
                    while let Some(chunk) = chunks.next().await {
                        archive.extend_from_slice(&chunk?);
                        if archive.len() > MAX_FILE_BYTES {
                            return Ok(None);
                        }
                    }
                    Ok(Some(archive))
                }
            })
            .await;
        let archive = match archive {
            Ok(Some(archive)) => archive,
            Ok(None) => {
                return Err(Error::FileTooLarge {
                    path: path.to_string(),
                    limit: MAX_FILE_BYTES,
                });
            }
            Err(e) if e.is_not_found() => {
                return Err(Error::FileNotFound {
                    path: path.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        first_entry(&archive).map_err(|source| Error::Archive {
            action: format!("reading {path}"),
            source,
        })
    }

    /// Waits until one of `containers` exits; returns it and its exit code.
    async fn first_exit(&self, containers: &[String]) -> (String, i64) {
        let waits = containers.iter().map(|id| {
            Box::pin(async move {
                let code = self.wait(id).await.map(i64::from).unwrap_or(-1);
                (id.clone(), code)
            })
        });
        futures_util::future::select_all(waits).await.0
    }

    /// Waits for the container to exit and returns its exit code.
    pub(super) async fn wait(&self, id: &str) -> Result<i32, Error> {
        let mut waits = self.client().await?.wait_container(id, None);
        match waits.next().await {
            Some(Ok(response)) => Ok(response.status_code as i32),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                Ok(code as i32)
            }
            Some(Err(e)) => Err(self.error("waiting for the command".into(), e)),
            None => Err(Error::Engine {
                action: "waiting for the command".into(),
                status: 0,
                message: "the engine closed the wait without an exit code".into(),
            }),
        }
    }

    /// The container's complete stdout and stderr.
    async fn output(&self, id: &str) -> Result<(String, String), Error> {
        self.split_logs(id, None).await
    }

    /// The container's stdout and stderr (their last `tail` lines when given).
    pub(super) async fn split_logs(
        &self,
        id: &str,
        tail: Option<u32>,
    ) -> Result<(String, String), Error> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        self.request("reading the command's output", |docker| {
            let mut logs = docker.logs(id, Some(options.clone()));
            async move {
                let mut output = Output::default();
                while let Some(chunk) = logs.next().await {
                    if !output.add(chunk?) {
                        break;
                    }
                }
                Ok(output.into_text())
            }
        })
        .await
    }

    async fn commit(&self, id: &str, labels: &Labels) -> Result<ImageId, Error> {
        let options = CommitContainerOptions {
            container: Some(id.to_string()),
            pause: false,
            ..Default::default()
        };
        let config = ContainerConfig {
            labels: Some(labels.to_map()),
            ..Default::default()
        };
        let committed = self
            .request("snapshotting the step", |docker| {
                docker.commit_container(options.clone(), config.clone())
            })
            .await?;
        Ok(ImageId(committed.id))
    }
}

/// Every container berth creates is held to its run's limits and is never
/// privileged: no host mounts, no devices, no added capabilities, and no
/// gaining privileges through setuid binaries.
fn sandboxed(host_config: HostConfig, limits: &ContainerLimits) -> HostConfig {
    let memory = i64::try_from(limits.memory).unwrap_or(i64::MAX);
    HostConfig {
        memory: Some(memory),
        // Swap included: the container cannot page past its limit.
        memory_swap: Some(memory),
        nano_cpus: Some((limits.cpus * 1e9) as i64),
        pids_limit: Some(i64::from(limits.pids)),
        privileged: Some(false),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        ..host_config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_against_their_directory() {
        assert_eq!(
            resolve_link("/etc/os-release", "../usr/lib/os-release"),
            "/usr/lib/os-release"
        );
        assert_eq!(resolve_link("/a/b", "/c"), "/c");
        assert_eq!(resolve_link("/a/b", "./c"), "/a/c");
    }

    #[test]
    fn output_past_the_limit_is_cut_and_says_so() {
        let mut output = Output::default();
        assert!(output.add(LogOutput::StdErr {
            message: vec![b'e'; 10].into()
        }));
        assert!(!output.add(LogOutput::StdOut {
            message: vec![b'o'; MAX_OUTPUT_BYTES].into()
        }));
        let (stdout, stderr) = output.into_text();
        assert_eq!(stderr, "e".repeat(10));
        assert!(stdout.starts_with(&"o".repeat(MAX_OUTPUT_BYTES - 10)));
        assert!(
            stdout.ends_with("the rest is not kept]\n"),
            "{}",
            &stdout[stdout.len() - 80..]
        );
    }
}

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{InspectContainerOptions, LogsOptions, StopContainerOptions};
use futures_util::StreamExt;
use tracing::instrument;

use super::DockerBackend;
use super::steps::Create;
use crate::backend::{
    ContainerState, Error, LABEL_KIND, NetworkInfo, ServiceContainer, ServiceRun,
};

/// The most of an exec'd command's stdout that is kept (probes and relay commands print little).
const MAX_COMMAND_OUTPUT: usize = 64 << 10;

/// Seconds a service gets between SIGTERM and SIGKILL when stopped.
const STOP_GRACE_SECONDS: i32 = 5;

impl DockerBackend {
    #[instrument(skip_all, fields(hostname = run.hostname), err(level = "debug"))]
    pub(super) async fn start_service_impl(
        &self,
        run: &ServiceRun<'_>,
    ) -> Result<ServiceContainer, Error> {
        let labels = run.labels.with(LABEL_KIND, "service");
        let create = Create {
            image: run.image,
            args: run.args.map(<[String]>::to_vec),
            config: run.config,
            labels: &labels,
            network: Some(run.network),
            limits: run.limits,
        };
        let id = self.create(&create).await?;
        // Until the caller holds the container, abandoning the start removes it.
        let abandoned = self.remove_on_drop(&id);
        let started = async {
            self.upload(&id, run.files).await?;
            self.request(format!("starting service {}", run.hostname), |docker| {
                docker.start_container(&id, None)
            })
            .await?;
            let network = self.network_state(run.network.network)?;
            match self.address(&id, &network.info).await {
                Ok(ip) => Ok(ip),
                // Exited already: report an empty address and let the health
                // check, which looks at the exit first, explain with the logs.
                Err(e) => match self.container_state_impl(&id).await? {
                    ContainerState::Exited { .. } => Ok(String::new()),
                    _ => Err(e),
                },
            }
        }
        .await;
        if started.is_err() {
            self.remove_container(&id).await;
        }
        abandoned.disarm();
        started.map(|ip| ServiceContainer {
            id,
            ip,
            network: run.network.network.to_string(),
        })
    }

    /// The container's IP address on `network`.
    pub(super) async fn address(&self, id: &str, network: &NetworkInfo) -> Result<String, Error> {
        let inspected = self
            .request("inspecting a service container", |docker| {
                docker.inspect_container(id, None::<InspectContainerOptions>)
            })
            .await?;
        inspected
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|networks| {
                // Docker names the endpoint's network by id. Podman calls its
                // default network `podman` there, whatever name it answered
                // to: a container berth made joined one network only.
                let only = networks.len() == 1;
                networks.into_iter().find_map(|(name, endpoint)| {
                    (only
                        || endpoint.network_id.as_deref() == Some(network.id.as_str())
                        || name == network.name)
                        .then_some(endpoint)
                })
            })
            .and_then(|endpoint| endpoint.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| Error::Engine {
                action: format!("finding the address of service container {id}"),
                status: 0,
                message: format!(
                    "the container has no address on network {} (did it exit at once?)",
                    network.name
                ),
            })
    }

    pub(super) async fn container_state_impl(&self, id: &str) -> Result<ContainerState, Error> {
        let inspected = self
            .request(format!("inspecting container {id}"), |docker| {
                docker.inspect_container(id, None::<InspectContainerOptions>)
            })
            .await;
        match inspected {
            Ok(inspected) => {
                let state = inspected.state.unwrap_or_default();
                if state.running == Some(true) {
                    Ok(ContainerState::Running)
                } else {
                    Ok(ContainerState::Exited {
                        exit_code: state.exit_code.unwrap_or(-1),
                    })
                }
            }
            Err(e) if e.is_not_found() => Ok(ContainerState::Gone),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn container_logs_impl(
        &self,
        id: &str,
        tail: Option<u32>,
    ) -> Result<String, Error> {
        let (stdout, stderr) = self.split_logs(id, tail).await?;
        Ok(match (stdout.is_empty(), stderr.is_empty()) {
            (_, true) => stdout,
            (true, false) => stderr,
            (false, false) => format!("{stdout}{stderr}"),
        })
    }

    pub(super) async fn follow_logs_impl(
        &self,
        id: &str,
        line: &(dyn for<'l> Fn(&'l str) + Send + Sync + '_),
    ) -> Result<(), Error> {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut logs = self.client().await?.logs(id, Some(options));
        // The engine frames writes, not lines: keep each stream's unfinished line.
        let mut partial = [Vec::new(), Vec::new()];
        while let Some(chunk) = logs.next().await {
            let (stream, bytes) =
                match chunk.map_err(|e| self.error(format!("following the logs of {id}"), e))? {
                    LogOutput::StdErr { message } => (1, message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => (0, message),
                    LogOutput::StdIn { .. } => continue,
                };
            let buffer = &mut partial[stream];
            buffer.extend_from_slice(&bytes);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let text: Vec<u8> = buffer.drain(..=end).collect();
                line(String::from_utf8_lossy(&text).trim_end());
            }
        }
        for rest in partial.iter().filter(|rest| !rest.is_empty()) {
            line(String::from_utf8_lossy(rest).trim_end());
        }
        Ok(())
    }

    pub(super) async fn exec_in_impl(&self, id: &str, args: &[String]) -> Result<i64, Error> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.run_in(id, &args).await?.0)
    }

    /// Runs `args` in running container `id` to its end; its exit code and
    /// stdout (the first [`MAX_COMMAND_OUTPUT`] bytes).
    pub(super) async fn run_in(&self, id: &str, args: &[&str]) -> Result<(i64, String), Error> {
        let (started, exec) = self.exec(id, args, false).await?;
        let mut stdout = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(Ok(chunk)) = output.next().await {
                if let LogOutput::StdOut { message } = chunk {
                    let room = MAX_COMMAND_OUTPUT.saturating_sub(stdout.len());
                    stdout.extend_from_slice(&message[..message.len().min(room)]);
                }
            }
        }
        let inspected = self
            .request(
                format!("reading the exit code of `{}`", args.join(" ")),
                |docker| docker.inspect_exec(&exec),
            )
            .await?;
        Ok((
            inspected.exit_code.unwrap_or(-1),
            String::from_utf8_lossy(&stdout).into_owned(),
        ))
    }

    /// Starts `args` in running container `id`, its stdout and stderr
    /// attached (and its stdin, when `stdin`); the started command and its exec id.
    pub(super) async fn exec(
        &self,
        id: &str,
        args: &[&str],
        stdin: bool,
    ) -> Result<(StartExecResults, String), Error> {
        let options = CreateExecOptions {
            cmd: Some(args.iter().map(|a| a.to_string()).collect()),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = match self
            .request(format!("creating command `{}`", args.join(" ")), |docker| {
                docker.create_exec(id, options.clone())
            })
            .await
        {
            Ok(exec) => exec,
            Err(refused) => return Err(self.exec_refusal(id, refused).await),
        };
        // Not sent twice: a second start of one exec is refused.
        let started = self
            .send(
                self.client().await?,
                format!("starting command `{}`", args.join(" ")),
                |docker| docker.start_exec(&exec.id, None),
            )
            .await?;
        Ok((started, exec.id))
    }

    /// Why creating an exec in `id` was refused: an engine without exec
    /// answers 501, or 404 while the container is there and running.
    async fn exec_refusal(&self, id: &str, refused: Error) -> Error {
        let lacks_exec = match &refused {
            Error::Engine { status: 501, .. } => true,
            Error::Engine { status: 404, .. } => {
                matches!(
                    self.container_state_impl(id).await,
                    Ok(ContainerState::Running)
                )
            }
            _ => false,
        };
        if !lacks_exec {
            return refused;
        }
        Error::EngineLacks {
            endpoint: self.endpoint.clone(),
            operation: "run commands in containers (exec)",
            needed_for: "for exec probes, and to reach services where it cannot dial container addresses ([engine] reach)",
            detail: refused.to_string(),
        }
    }

    pub(super) async fn stop_container_impl(&self, id: &str, kill: bool) -> Result<(), Error> {
        if !kill {
            let options = StopContainerOptions {
                t: Some(STOP_GRACE_SECONDS),
                signal: None,
            };
            let stopped = self
                .request(format!("stopping container {id}"), |docker| {
                    docker.stop_container(id, Some(options.clone()))
                })
                .await;
            match stopped {
                Ok(()) => {}
                Err(e) if e.is_not_found() => return Ok(()),
                // 304: already stopped.
                Err(Error::Engine { status: 304, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_container(id).await;
        Ok(())
    }
}

//! Evaluation of container pipelines on a backend, with the exec cache.
//!
//! Each exec step runs in a container made from the previous step's snapshot.
//! A step's result is stored under the step's digest, so an identical
//! pipeline, in this process or a later one, starts no container.

mod binder;
mod cache;
mod error;
pub mod failed_steps;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::lock;
use tracing::instrument;

use crate::backend::{
    self, ContainerBackend, ImageId, LABEL_DIGEST, ProgressSink, ServiceNetwork, StepOutput,
    StepRun,
};
use crate::budget::{self, ContainerKind};
use crate::policy::ImagePolicy;
use crate::session::Session;
use crate::spec::{ContainerSpec, Digest, ResolvedImages, Stage, absolute_path};

pub use binder::{BoundServices, ServiceBinder};
pub use cache::ExecCache;
pub use error::Error;

/// The outcome of evaluating a pipeline.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The last snapshot taken, or the base image. It is the filesystem after
    /// the whole pipeline when evaluated with [`Want::Filesystem`].
    pub image: ImageId,
    /// The last exec step's arguments and output, when there is one.
    pub last_exec: Option<(Vec<String>, StepOutput)>,
    /// What comes after the last exec (files and configuration not yet run).
    pub tail: Stage,
}

impl Evaluation {
    /// The last exec's output, or an error when it failed or there is none.
    pub fn successful_exec(&self) -> Result<&StepOutput, Error> {
        match &self.last_exec {
            None => Err(Error::NoExec),
            Some((args, output)) => check_exit(args, output).map(|()| output),
        }
    }

    /// Fails when the last exec exited non-zero.
    pub fn check(&self) -> Result<(), Error> {
        match &self.last_exec {
            Some((args, output)) => check_exit(args, output),
            None => Ok(()),
        }
    }
}

fn check_exit(args: &[String], output: &StepOutput) -> Result<(), Error> {
    if output.exit_code == 0 {
        return Ok(());
    }
    Err(Error::ExecFailed {
        args: args.to_vec(),
        exit_code: output.exit_code,
        stdout: output.stdout.clone(),
        stderr: output.stderr.clone(),
    })
}

/// One user of a step's lock. The last user removes the lock from the map,
/// so a long-lived evaluator (a tenant's, in `berth serve`) keeps no lock
/// for every step it ever ran.
struct StepLockUse<'a> {
    locks: &'a Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
    key: Digest,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> StepLockUse<'a> {
    fn new(locks: &'a Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>, key: Digest) -> Self {
        let lock = crate::lock(locks).entry(key).or_default().clone();
        StepLockUse { locks, key, lock }
    }
}

impl Drop for StepLockUse<'_> {
    fn drop(&mut self) {
        // Under the map's lock, nobody can take a new share: two means the map's and ours.
        let mut locks = crate::lock(self.locks);
        if Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.key);
        }
    }
}

/// What a caller needs from an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Only the last step's output (stdout, stderr, exit code): the last step
    /// takes no snapshot, which saves a commit per client.
    Output,
    /// The filesystem after the pipeline too (to read a file or start a service from).
    Filesystem,
}

/// Evaluates pipelines for one session.
pub struct Evaluator {
    session: Arc<Session>,
    images: ImagePolicy,
    cache: ExecCache,
    progress: Arc<dyn ProgressSink>,
    resolved: Mutex<HashMap<String, ImageId>>,
    step_locks: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl Evaluator {
    /// An evaluator that runs on `session`'s backend and caches in `cache`.
    pub fn new(
        session: Arc<Session>,
        images: ImagePolicy,
        cache: ExecCache,
        progress: Arc<dyn ProgressSink>,
    ) -> Self {
        Evaluator {
            session,
            images,
            cache,
            progress,
            resolved: Mutex::new(HashMap::new()),
            step_locks: Mutex::new(HashMap::new()),
        }
    }

    /// Where progress of long work is shown.
    pub fn progress(&self) -> &Arc<dyn ProgressSink> {
        &self.progress
    }

    /// The session this evaluator runs in.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The engine the session runs on.
    pub fn backend(&self) -> &dyn ContainerBackend {
        self.session.backend().as_ref()
    }

    /// Steps being run, or waited for, right now.
    pub fn steps_in_flight(&self) -> usize {
        lock(&self.step_locks).len()
    }

    /// The content id of the image at `address`, after rewrites; pulled when missing.
    #[instrument(skip(self), err(level = "debug"))]
    pub async fn resolve_image(&self, address: &str) -> Result<ImageId, Error> {
        if address.trim().is_empty() {
            return Err(Error::InvalidArgument("the image address is empty".into()));
        }
        if let Some(id) = lock(&self.resolved).get(address) {
            return Ok(id.clone());
        }
        self.images
            .check_allowed(address)
            .map_err(Error::NotAllowed)?;
        let reference = self.images.rewrite(address);
        if cache::names_snapshot(address) || cache::names_snapshot(&reference) {
            return Err(Error::NotAllowed(format!(
                "image `{address}` is a snapshot in berth's exec cache, which no plugin may ask for"
            )));
        }
        let id = self
            .backend()
            .resolve_image(&reference, self.progress.as_ref())
            .await?;
        lock(&self.resolved).insert(address.to_string(), id.clone());
        Ok(id)
    }

    /// The ids of every image `spec` and the services it binds start from.
    pub async fn resolve_images(&self, spec: &ContainerSpec) -> Result<ResolvedImages, Error> {
        self.resolve_addresses(&spec.image_addresses()).await
    }

    /// The ids of the images at `addresses`.
    pub async fn resolve_addresses(&self, addresses: &[&str]) -> Result<ResolvedImages, Error> {
        let mut images = ResolvedImages::new();
        for &address in addresses {
            if !images.contains_key(address) {
                let id = self.resolve_image(address).await?;
                images.insert(address.to_string(), id.0);
            }
        }
        Ok(images)
    }

    /// The digest of `spec`: its resolved images and every operation.
    pub async fn digest(&self, spec: &ContainerSpec) -> Result<Digest, Error> {
        Ok(spec.digest(&self.resolve_images(spec).await?))
    }

    /// Runs every exec step of `spec` (from the cache where possible);
    /// `binder` starts the services steps bind.
    #[instrument(skip_all, fields(image = spec.address()), err(level = "debug"))]
    pub async fn evaluate(
        &self,
        spec: &ContainerSpec,
        binder: &dyn ServiceBinder,
        want: Want,
    ) -> Result<Evaluation, Error> {
        let images = self.resolve_images(spec).await?;
        let digests = spec.prefix_digests(&images);
        let mut image = images
            .get(spec.address())
            .cloned()
            .map(ImageId)
            .ok_or_else(|| Error::InvalidArgument("the base image was not resolved".into()))?;
        let mut last_exec: Option<(Vec<String>, StepOutput)> = None;
        let stages = spec.stages();
        let last_exec_stage = stages.iter().rposition(|s| s.exec.is_some());
        for (index, stage) in stages.into_iter().enumerate() {
            let Some(args) = &stage.exec else {
                return Ok(Evaluation {
                    image,
                    last_exec,
                    tail: stage,
                });
            };
            // A later step cannot start from a failed one.
            if let Some((args, output)) = &last_exec {
                check_exit(args, output)?;
            }
            if args.is_empty() {
                return Err(Error::InvalidArgument(
                    "with-exec needs at least one argument".into(),
                ));
            }
            let key = digests[stage.ops_end];
            let snapshot = want == Want::Filesystem || Some(index) != last_exec_stage;
            let output = self
                .run_step(key, &image, &stage, args, binder, snapshot)
                .await?;
            if let Some(snapshot) = &output.snapshot {
                image = snapshot.clone();
            }
            last_exec = Some((args.to_vec(), output));
        }
        // `stages()` always ends with a tail stage, so the loop returns.
        Err(Error::InvalidArgument(
            "the pipeline has no tail stage".into(),
        ))
    }

    /// The contents of the file at `path` after the pipeline.
    pub async fn file(
        &self,
        spec: &ContainerSpec,
        path: &str,
        binder: &dyn ServiceBinder,
    ) -> Result<Vec<u8>, Error> {
        if path.is_empty() {
            return Err(Error::InvalidArgument("the file path is empty".into()));
        }
        let evaluation = self.evaluate(spec, binder, Want::Filesystem).await?;
        evaluation.check()?;
        let absolute = absolute_path(evaluation.tail.config.workdir.as_deref(), path);
        // Reading a file takes a container of its own.
        budget::admit(ContainerKind::Copy).map_err(|e| Error::LimitExceeded(e.to_string()))?;
        let _running = self
            .session
            .hold()
            .map_err(|e| Error::LimitExceeded(e.to_string()))?;
        let labels = self.session.labels();
        Ok(self
            .backend()
            .read_file(
                &evaluation.image,
                &evaluation.tail.files,
                &absolute,
                &labels,
            )
            .await?)
    }

    /// One step, from the cache or run; concurrent identical steps run once.
    /// Its bound services run only when the step itself has to run.
    async fn run_step(
        &self,
        key: Digest,
        image: &ImageId,
        stage: &Stage,
        args: &[String],
        binder: &dyn ServiceBinder,
        snapshot: bool,
    ) -> Result<StepOutput, Error> {
        let step_lock = StepLockUse::new(&self.step_locks, key);
        let _running = step_lock.lock.lock().await;
        if let Some(output) = self.cache.get(&key) {
            let usable = match &output.snapshot {
                Some(image) => self.backend().image_exists(image).await?,
                None => !snapshot,
            };
            if usable {
                tracing::debug!(step = %key, "exec cache hit");
                return Ok(output);
            }
        }
        if let Some(output) = failed_steps::get(&key) {
            return Ok(output);
        }
        let bound = binder.bind(&stage.config.service_bindings).await?;
        budget::admit(ContainerKind::Step).map_err(|e| Error::LimitExceeded(e.to_string()))?;
        let _running = self
            .session
            .hold()
            .map_err(|e| Error::LimitExceeded(e.to_string()))?;
        let task = self.progress.begin(&format!("exec {}", args.join(" ")));
        let labels = self.session.labels().with(LABEL_DIGEST, &key.to_hex());
        let network = bound.network.as_deref().map(|network| ServiceNetwork {
            network,
            hosts: &bound.hosts,
            dependencies: &bound.containers,
        });
        let run = StepRun {
            image,
            args,
            config: &stage.config,
            files: &stage.files,
            labels: &labels,
            network: network.as_ref(),
            snapshot,
            limits: self.session.limits(),
        };
        let mut output = match self.backend().run_step(&run).await {
            Ok(output) => output,
            Err(backend::Error::DependencyExited {
                container,
                exit_code,
            }) => {
                task.finish("a bound service exited");
                let logs = self
                    .backend()
                    .container_logs(&container, Some(20))
                    .await
                    .unwrap_or_default();
                return Err(Error::ServiceExited {
                    service: bound.name_of(&container),
                    exit_code,
                    logs,
                });
            }
            Err(e) => {
                task.finish("failed");
                return Err(e.into());
            }
        };
        task.finish(&format!("exit {}", output.exit_code));
        if output.exit_code == 0 {
            if let Some(snapshot) = &output.snapshot {
                let kept = self
                    .backend()
                    .keep_image(snapshot, &self.cache.kept_image(&key))
                    .await?;
                output.snapshot = Some(kept);
            }
            self.cache.put(&key, &output)?;
        } else {
            failed_steps::remember(key, &output);
        }
        Ok(output)
    }
}

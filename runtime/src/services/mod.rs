//! Services: de-duplication by digest, single-flight starts, health checks,
//! dependency order, refcounted lifetime with a grace period.
//!
//! One [`ServiceManager`] serves one session (and one tenant): within it there
//! is at most one running container per service digest, however many clients
//! bind it. Nothing here sees wasm types.

pub mod health;
mod plan;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::lock;
use async_trait::async_trait;
use futures_util::future::try_join_all;
use tracing::{debug, info, instrument, warn};

use crate::backend::{LABEL_DIGEST, ServiceContainer, ServiceNetwork, ServiceRun};
use crate::pipeline::{BoundServices, Error, Evaluation, Evaluator, ServiceBinder};
use crate::policy::ServiceDefaults;
use crate::spec::{ContainerSpec, Digest, ServiceSpec, service_hostname};

pub use plan::{ServicePlan, plan};

/// Runs the services of one session.
pub struct ServiceManager {
    evaluator: Arc<Evaluator>,
    defaults: ServiceDefaults,
    network: tokio::sync::OnceCell<String>,
    entries: Mutex<HashMap<Digest, Arc<Entry>>>,
    this: Weak<ServiceManager>,
}

/// One service digest's slot: its running container, and who holds it.
struct Entry {
    hostname: String,
    /// Held while starting or stopping, so concurrent acquirers wait for one start.
    running: tokio::sync::Mutex<Option<Running>>,
    holders: Mutex<Holders>,
}

#[derive(Default)]
struct Holders {
    count: usize,
    /// Bumped on every acquire, so a grace-period stop can tell it was overtaken.
    generation: u64,
}

struct Running {
    container: ServiceContainer,
    /// Leases on the services this one binds; released when it stops.
    _dependencies: BoundServices,
}

/// A hold on a running service; the service may stop once every lease is dropped.
pub struct Lease {
    manager: Arc<ServiceManager>,
    entry: Arc<Entry>,
    container: ServiceContainer,
}

impl Lease {
    /// The service's DNS name on the session network.
    pub fn hostname(&self) -> &str {
        &self.entry.hostname
    }

    /// The running container.
    pub fn container(&self) -> &ServiceContainer {
        &self.container
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.manager.release(&self.entry);
    }
}

impl ServiceManager {
    /// A manager that evaluates pipelines with `evaluator`.
    pub fn new(evaluator: Arc<Evaluator>, defaults: ServiceDefaults) -> Arc<ServiceManager> {
        Arc::new_cyclic(|this| ServiceManager {
            evaluator,
            defaults,
            network: tokio::sync::OnceCell::new(),
            entries: Mutex::new(HashMap::new()),
            this: this.clone(),
        })
    }

    /// The pipeline evaluator.
    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.evaluator
    }

    /// Evaluates a container, starting the services it binds.
    pub async fn evaluate(&self, spec: &ContainerSpec) -> Result<Evaluation, Error> {
        self.evaluator.evaluate(spec, self).await
    }

    /// A file of a container after its pipeline.
    pub async fn file(&self, spec: &ContainerSpec, path: &str) -> Result<Vec<u8>, Error> {
        self.evaluator.file(spec, path, self).await
    }

    /// The digest and hostname of a service.
    pub async fn identify(&self, service: &ServiceSpec) -> Result<(Digest, String), Error> {
        let images = self.evaluator.resolve_images(&service.container).await?;
        let digest = service.digest(&images);
        Ok((digest, service_hostname(&digest)))
    }

    /// Starts the service (or shares the running one) and waits until it is healthy.
    #[instrument(skip_all, err(level = "debug"))]
    pub async fn acquire(&self, service: &ServiceSpec) -> Result<Lease, Error> {
        let (digest, hostname) = self.identify(service).await?;
        let entry = lock(&self.entries)
            .entry(digest)
            .or_insert_with(|| {
                Arc::new(Entry {
                    hostname: hostname.clone(),
                    running: tokio::sync::Mutex::new(None),
                    holders: Mutex::new(Holders::default()),
                })
            })
            .clone();
        let mut running = entry.running.lock().await;
        if let Some(current) = running.as_ref() {
            let state = self
                .evaluator
                .backend()
                .container_state(&current.container.id)
                .await?;
            if state != crate::backend::ContainerState::Running {
                warn!(service = %hostname, ?state, "service died; starting it again");
                let dead = running.take();
                self.remove(dead).await;
            }
        }
        if running.is_none() {
            // A failed start leaves `None`, so the next acquirer tries again.
            *running = Some(self.start(service, &digest, &hostname).await?);
        }
        let container = running
            .as_ref()
            .map(|r| r.container.clone())
            .ok_or_else(|| Error::ServiceNotRunning(hostname.clone()))?;
        {
            let mut holders = lock(&entry.holders);
            holders.count += 1;
            holders.generation += 1;
        }
        drop(running);
        let manager = self
            .this
            .upgrade()
            .ok_or_else(|| Error::ServiceNotRunning(hostname))?;
        Ok(Lease {
            manager,
            entry,
            container,
        })
    }

    /// Stops a service now, whoever holds it; its clients fail.
    pub async fn stop(&self, service: &ServiceSpec, kill: bool) -> Result<(), Error> {
        let (digest, _) = self.identify(service).await?;
        let entry = lock(&self.entries).get(&digest).cloned();
        if let Some(entry) = entry {
            let stopped = entry.running.lock().await.take();
            if let Some(running) = stopped {
                self.evaluator
                    .backend()
                    .stop_container(&running.container.id, kill)
                    .await?;
            }
        }
        Ok(())
    }

    /// The last `tail` log lines of a running service.
    pub async fn logs(&self, service: &ServiceSpec, tail: Option<u32>) -> Result<String, Error> {
        let (digest, hostname) = self.identify(service).await?;
        let entry = lock(&self.entries).get(&digest).cloned();
        let container = match entry {
            Some(entry) => entry
                .running
                .lock()
                .await
                .as_ref()
                .map(|r| r.container.id.clone()),
            None => None,
        };
        let container = container.ok_or(Error::ServiceNotRunning(hostname))?;
        Ok(self
            .evaluator
            .backend()
            .container_logs(&container, tail)
            .await?)
    }

    #[instrument(skip(self, service), err(level = "debug"))]
    async fn start(
        &self,
        service: &ServiceSpec,
        digest: &Digest,
        hostname: &str,
    ) -> Result<Running, Error> {
        let plan = plan(service);
        let evaluation = self.evaluate(&plan.base).await?;
        evaluation.check()?;
        let config = &evaluation.tail.config;
        // Services this one binds start first, independent ones in parallel.
        let dependencies = self.bind(&config.service_bindings).await?;
        let network_name = self.network().await?;
        let network = ServiceNetwork {
            network: &network_name,
            hosts: &dependencies.hosts,
            dependencies: &dependencies.containers,
        };
        let labels = self
            .evaluator
            .session()
            .labels()
            .with(LABEL_DIGEST, &digest.to_hex());
        let task = self
            .evaluator
            .progress()
            .begin(&format!("service {hostname}"));
        let run = ServiceRun {
            image: &evaluation.image,
            args: plan.command.as_deref(),
            config,
            files: &evaluation.tail.files,
            network: &network,
            hostname,
            labels: &labels,
        };
        let container = match self.evaluator.backend().start_service(&run).await {
            Ok(container) => container,
            Err(e) => {
                task.finish("failed to start");
                return Err(e.into());
            }
        };
        task.update("waiting until healthy");
        let declared = config.health_check.as_ref();
        let probes = health::probes_for(declared.map(|(p, _)| p.as_slice()), &config.exposed_ports);
        let timeout = declared
            .and_then(|(_, ms)| *ms)
            .map(|ms| std::time::Duration::from_millis(u64::from(ms)))
            .unwrap_or(self.defaults.health_timeout);
        let backend = self.evaluator.backend();
        if let Err(e) = health::wait_healthy(backend, &container, &probes, timeout, hostname).await
        {
            task.finish("unhealthy");
            if let Err(stop) = backend.stop_container(&container.id, true).await {
                warn!(error = %stop, "could not remove an unhealthy service");
            }
            return Err(e);
        }
        task.finish("healthy");
        info!(service = hostname, ip = %container.ip, "service healthy");
        Ok(Running {
            container,
            _dependencies: dependencies,
        })
    }

    /// The session's service network, created on first use.
    async fn network(&self) -> Result<String, Error> {
        let name = self
            .network
            .get_or_try_init(|| async {
                let session = self.evaluator.session();
                let name = format!("berth-{}", session.id());
                self.evaluator
                    .backend()
                    .ensure_network(&name, &session.labels())
                    .await?;
                Ok::<_, Error>(name)
            })
            .await?;
        Ok(name.clone())
    }

    /// One holder fewer; at zero, the service stops after the grace period.
    fn release(&self, entry: &Arc<Entry>) {
        let generation = {
            let mut holders = lock(&entry.holders);
            holders.count = holders.count.saturating_sub(1);
            if holders.count > 0 {
                return;
            }
            holders.generation
        };
        let (Some(manager), Ok(runtime)) =
            (self.this.upgrade(), tokio::runtime::Handle::try_current())
        else {
            // No runtime left: the process is ending and the session's teardown removes the service.
            return;
        };
        let entry = entry.clone();
        let grace = self.defaults.grace;
        runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let mut running = entry.running.lock().await;
            let idle = {
                let holders = lock(&entry.holders);
                holders.count == 0 && holders.generation == generation
            };
            if idle {
                debug!(service = %entry.hostname, "grace period over; stopping");
                let stopped = running.take();
                manager.remove(stopped).await;
            }
        });
    }

    async fn remove(&self, running: Option<Running>) {
        if let Some(running) = running
            && let Err(e) = self
                .evaluator
                .backend()
                .stop_container(&running.container.id, false)
                .await
        {
            warn!(error = %e, "could not stop a service");
        }
    }
}

#[async_trait]
impl ServiceBinder for ServiceManager {
    async fn bind(&self, bindings: &[(String, ServiceSpec)]) -> Result<BoundServices, Error> {
        if bindings.is_empty() {
            return Ok(BoundServices::default());
        }
        let leases =
            try_join_all(bindings.iter().map(|(_, service)| self.acquire(service))).await?;
        let network = self.network().await?;
        let mut bound = BoundServices {
            network: Some(network),
            ..Default::default()
        };
        for ((alias, _), lease) in bindings.iter().zip(leases) {
            bound
                .hosts
                .push((alias.clone(), lease.container().ip.clone()));
            bound.containers.push(lease.container().id.clone());
            bound.hostnames.push(lease.hostname().to_string());
            bound.holds.push(Box::new(lease));
        }
        Ok(bound)
    }
}

//! Services: de-duplication by digest, single-flight starts, health checks,
//! dependency order, refcounted lifetime with a grace period.
//!
//! One [`ServiceManager`] serves one session (and one tenant): within it there
//! is at most one running container per service digest, however many clients
//! bind it. Nothing here sees wasm types.

pub mod health;
mod plan;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use crate::lock;
use async_trait::async_trait;
use futures_util::future::join_all;
use tracing::{debug, info, instrument, warn};

use crate::backend::{
    LABEL_DIGEST, Labels, NetworkInfo, RemoveOnDrop, ServiceContainer, ServiceNetwork, ServiceRun,
};
use crate::budget::{self, ContainerKind};
use crate::net::{Peers, Target, Tunnel};
use crate::pipeline::{BoundServices, Error, Evaluation, Evaluator, ServiceBinder, Want};
use crate::policy::ServiceDefaults;
use crate::spec::{ContainerSpec, Digest, PortForward, Probe, ServiceSpec, service_hostname};

pub use plan::{ServicePlan, plan};

/// Which network a manager's services and clients run on.
#[derive(Clone, Debug)]
pub enum ServiceNetworkChoice {
    /// The engine's default network, shared with everything on the engine:
    /// on Docker a container joins it faster than a user-defined network
    /// (by 60 to 160 ms per start here; see BENCHMARKS.md).
    DefaultBridge,
    /// A network of the manager's own (a tenant's, in `berth serve`): every
    /// container of the manager joins it, services and steps alike, and no
    /// container on another network reaches them.
    Dedicated { name: String, labels: Labels },
}

/// Runs the services of one session.
pub struct ServiceManager {
    evaluator: Arc<Evaluator>,
    defaults: ServiceDefaults,
    choice: ServiceNetworkChoice,
    network: tokio::sync::OnceCell<NetworkInfo>,
    entries: Mutex<HashMap<Digest, Arc<Entry>>>,
    this: Weak<ServiceManager>,
}

/// One service digest's slot: its running container, and who holds it.
struct Entry {
    digest: Digest,
    hostname: String,
    /// Held while starting or stopping, so concurrent acquirers wait for one start.
    running: tokio::sync::Mutex<Option<Running>>,
    holders: Mutex<Holders>,
    /// The starts that failed, and the last failure: acquirers that waited
    /// through a failed start get its failure rather than starting the
    /// service again, so a crashing service is not started once per client.
    failures: Mutex<(u64, Option<Arc<Error>>)>,
}

#[derive(Default)]
struct Holders {
    count: usize,
    /// Bumped on every acquire, so a grace-period stop can tell it was overtaken.
    generation: u64,
}

/// A service that runs.
struct Running {
    endpoint: Endpoint,
    /// What it needs while it runs: leases on the services it binds, or its tunnels.
    _holds: Box<dyn Send + Sync>,
}

/// Where clients reach a running service.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The address on the services network clients connect to.
    pub address: String,
    /// The container that answers there: the service's own, or a host
    /// service's forwarder; `None` for a host service reached directly.
    pub container: Option<ServiceContainer>,
}

/// A hold on a running service; the service may stop once every lease is dropped.
pub struct Lease {
    manager: Arc<ServiceManager>,
    entry: Arc<Entry>,
    endpoint: Endpoint,
}

impl Lease {
    /// The service's DNS name on the services network.
    pub fn hostname(&self) -> &str {
        &self.entry.hostname
    }

    /// Where clients reach it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.manager.release(&self.entry);
    }
}

impl ServiceManager {
    /// A manager that evaluates pipelines with `evaluator`, on the default bridge.
    pub fn new(evaluator: Arc<Evaluator>, defaults: ServiceDefaults) -> Arc<ServiceManager> {
        ServiceManager::on_network(evaluator, defaults, ServiceNetworkChoice::DefaultBridge)
    }

    /// A manager whose containers run on the network `choice` names.
    pub fn on_network(
        evaluator: Arc<Evaluator>,
        defaults: ServiceDefaults,
        choice: ServiceNetworkChoice,
    ) -> Arc<ServiceManager> {
        Arc::new_cyclic(|this| ServiceManager {
            evaluator,
            defaults,
            choice,
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
    pub async fn evaluate(&self, spec: &ContainerSpec, want: Want) -> Result<Evaluation, Error> {
        self.evaluator.evaluate(spec, self, want).await
    }

    /// A file of a container after its pipeline.
    pub async fn file(&self, spec: &ContainerSpec, path: &str) -> Result<Vec<u8>, Error> {
        self.evaluator.file(spec, path, self).await
    }

    /// The digest and hostname of a service.
    pub async fn identify(&self, service: &ServiceSpec) -> Result<(Digest, String), Error> {
        let images = self
            .evaluator
            .resolve_addresses(&service.image_addresses())
            .await?;
        let digest = service.digest(&images);
        Ok((digest, service_hostname(&digest)))
    }

    /// `hostname:port`, or `scheme://hostname:port`, where clients reach the
    /// service; the port defaults to its first exposed one.
    pub async fn endpoint(
        &self,
        service: &ServiceSpec,
        port: Option<u16>,
        scheme: Option<&str>,
    ) -> Result<String, Error> {
        let port = port
            .or_else(|| service.ports().first().map(|p| p.number))
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "the service exposes no port; name the port, or add with-exposed-port".into(),
                )
            })?;
        let (_, hostname) = self.identify(service).await?;
        Ok(match scheme {
            Some(scheme) => format!("{scheme}://{hostname}:{port}"),
            None => format!("{hostname}:{port}"),
        })
    }

    /// Starts the service (or shares the running one) and waits until it is healthy.
    #[instrument(skip_all, err(level = "debug"))]
    pub async fn acquire(&self, service: &ServiceSpec) -> Result<Lease, Error> {
        let (digest, hostname) = self.identify(service).await?;
        let entry = lock(&self.entries)
            .entry(digest)
            .or_insert_with(|| {
                Arc::new(Entry {
                    digest,
                    hostname: hostname.clone(),
                    running: tokio::sync::Mutex::new(None),
                    holders: Mutex::new(Holders::default()),
                    failures: Mutex::new((0, None)),
                })
            })
            .clone();
        let failures_before = lock(&entry.failures).0;
        let mut running = entry.running.lock().await;
        if let Some(container) = running.as_ref().and_then(|r| r.endpoint.container.clone()) {
            let state = self
                .evaluator
                .backend()
                .container_state(&container.id)
                .await?;
            if state != crate::backend::ContainerState::Running {
                warn!(service = %hostname, ?state, "service died; starting it again");
                let dead = running.take();
                self.remove(dead).await;
            }
        }
        if running.is_none() {
            if let (failures, Some(failure)) = &*lock(&entry.failures)
                && *failures > failures_before
            {
                return Err(Error::StartFailed(failure.clone()));
            }
            // A failed start leaves `None`, so a later acquirer tries again.
            match self.start(service, &digest, &hostname).await {
                Ok(started) => *running = Some(started),
                Err(e) => {
                    let failure = Arc::new(e);
                    {
                        let mut failures = lock(&entry.failures);
                        *failures = (failures.0 + 1, Some(failure.clone()));
                    }
                    // Acquirers waiting on this entry hold it and see the
                    // failure; a later one gets a fresh entry and starts again.
                    self.forget(&entry, |_| true);
                    return Err(Error::StartFailed(failure));
                }
            }
        }
        let endpoint = running
            .as_ref()
            .map(|r| r.endpoint.clone())
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
            endpoint,
        })
    }

    /// Stops a service now, whoever holds it; its clients fail.
    pub async fn stop(&self, service: &ServiceSpec, kill: bool) -> Result<(), Error> {
        let (digest, _) = self.identify(service).await?;
        let entry = lock(&self.entries).get(&digest).cloned();
        if let Some(entry) = entry {
            let stopped = entry.running.lock().await.take();
            self.stop_running(stopped, kill).await?;
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
                .and_then(|r| r.endpoint.container.as_ref().map(|c| c.id.clone())),
            None => None,
        };
        let container = container.ok_or(Error::ServiceNotRunning(hostname))?;
        Ok(self
            .evaluator
            .backend()
            .container_logs(&container, tail)
            .await?)
    }

    async fn start(
        &self,
        service: &ServiceSpec,
        digest: &Digest,
        hostname: &str,
    ) -> Result<Running, Error> {
        match service {
            ServiceSpec::Container { container, args } => {
                self.start_container(container, args.as_deref(), digest, hostname)
                    .await
            }
            ServiceSpec::Host { host, ports } => {
                self.open_host_tunnels(host, ports, hostname).await
            }
        }
    }

    #[instrument(skip(self, container, args), err(level = "debug"))]
    async fn start_container(
        &self,
        container: &ContainerSpec,
        args: Option<&[String]>,
        digest: &Digest,
        hostname: &str,
    ) -> Result<Running, Error> {
        let plan = plan(container, args);
        let evaluation = self.evaluate(&plan.base, Want::Filesystem).await?;
        evaluation.check()?;
        let config = &evaluation.tail.config;
        // Services this one binds start first, independent ones in parallel.
        let dependencies = self.bind(&config.service_bindings).await?;
        let network_info = self.network().await?;
        let network = ServiceNetwork {
            network: &network_info.id,
            hosts: &dependencies.hosts,
            dependencies: &dependencies.containers,
        };
        let labels = self
            .evaluator
            .session()
            .labels()
            .with(LABEL_DIGEST, &digest.to_hex());
        budget::admit(ContainerKind::Service).map_err(|e| Error::LimitExceeded(e.to_string()))?;
        // Held while the service runs: it counts against a tenant's quota.
        let running = self
            .evaluator
            .session()
            .hold()
            .map_err(|e| Error::LimitExceeded(e.to_string()))?;
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
            limits: self.evaluator.session().limits(),
        };
        let container = match self.evaluator.backend().start_service(&run).await {
            Ok(container) => container,
            Err(e) => {
                task.finish("failed to start");
                return Err(e.into());
            }
        };
        self.show_logs(&container.id, hostname);
        // If this start is abandoned (a sibling binding failed, the call was
        // cancelled) before it is recorded, the container must not run on unowned.
        let unrecorded = self.remove_on_drop(&container.id);
        task.update("waiting until healthy");
        let declared = config.health_check.as_ref();
        let probes = health::probes_for(declared.map(|(p, _)| p.as_slice()), &config.exposed_ports);
        let timeout = declared
            .and_then(|(_, ms)| *ms)
            .map(|ms| std::time::Duration::from_millis(u64::from(ms)))
            .unwrap_or(self.defaults.health_timeout);
        let backend = self.evaluator.backend();
        let target = health::Target {
            address: &container.ip,
            container: Some(&container),
        };
        if let Err(e) = health::wait_healthy(backend, &target, &probes, timeout, hostname).await {
            task.finish("unhealthy");
            if let Err(stop) = backend.stop_container(&container.id, true).await {
                warn!(error = %stop, "could not remove an unhealthy service");
            }
            unrecorded.disarm();
            return Err(e);
        }
        unrecorded.disarm();
        task.finish("healthy");
        info!(service = hostname, ip = %container.ip, "service healthy");
        Ok(Running {
            endpoint: Endpoint {
                address: container.ip.clone(),
                container: Some(container),
            },
            _holds: Box::new((dependencies, running)),
        })
    }

    /// Shows what the service logs, when the user asked to (`-v`), until it ends.
    fn show_logs(&self, container: &str, hostname: &str) {
        let progress = self.evaluator.progress().clone();
        if !progress.shows_service_logs() {
            return;
        }
        let backend = self.evaluator.session().backend().clone();
        let container = container.to_string();
        let hostname = hostname.to_string();
        tokio::spawn(async move {
            let line = |text: &str| progress.service_log(&hostname, text);
            if let Err(e) = backend.follow_logs(&container, &line).await {
                debug!(service = %hostname, error = %e, "stopped following the service's logs");
            }
        });
    }

    /// A host service: once its ports answer on the host, containers reach
    /// them through tunnels on the host's address on the services network.
    #[instrument(skip(self, ports), err(level = "debug"))]
    async fn open_host_tunnels(
        &self,
        host: &str,
        ports: &[PortForward],
        hostname: &str,
    ) -> Result<Running, Error> {
        let task = self
            .evaluator
            .progress()
            .begin(&format!("host service {hostname} ({host})"));
        let probes: Vec<Probe> = ports.iter().map(|p| Probe::Tcp(p.backend)).collect();
        let target = health::Target {
            address: host,
            container: None,
        };
        let backend = self.evaluator.backend();
        if let Err(e) = health::wait_healthy(
            backend,
            &target,
            &probes,
            self.defaults.health_timeout,
            hostname,
        )
        .await
        {
            task.finish("unreachable");
            return Err(e);
        }
        let network = self.network().await?;
        let backend = self.evaluator.backend();
        let route = backend.host_route(&network.id).await?;
        let cannot_forward = |port: &PortForward, listen: SocketAddr, e: std::io::Error| {
            Error::InvalidArgument(format!(
                "cannot forward {host}:{} to containers on {listen}: {e}",
                port.backend
            ))
        };
        let mut tunnels = Vec::new();
        if route.direct {
            for port in ports {
                let listen = SocketAddr::new(route.listen, port.frontend());
                let target = Target::host(host, port.backend);
                match Tunnel::open(listen, target, Peers::within(&route.peers)).await {
                    Ok(tunnel) => tunnels.push(tunnel),
                    // A host program listening on all addresses already answers on
                    // the network under its own port: containers reach it directly.
                    Err(e)
                        if e.kind() == std::io::ErrorKind::AddrInUse
                            && port.frontend() == port.backend
                            && tokio::net::TcpStream::connect(listen).await.is_ok() =>
                    {
                        debug!(%listen, "the host program answers on the network; no tunnel needed");
                    }
                    Err(e) => return Err(cannot_forward(port, listen, e)),
                }
            }
            task.finish("reachable");
            return Ok(Running {
                endpoint: Endpoint {
                    address: route.listen.to_string(),
                    container: None,
                },
                _holds: Box::new(tunnels),
            });
        }
        // Containers reach this host only through a forwarder on the
        // network, which dials tunnels on free ports of the route's address.
        let mut forwards = Vec::new();
        for port in ports {
            let listen = SocketAddr::new(route.listen, 0);
            let target = Target::host(host, port.backend);
            let tunnel = Tunnel::open(listen, target, Peers::within(&route.peers))
                .await
                .map_err(|e| cannot_forward(port, listen, e))?;
            forwards.push((port.frontend(), tunnel.local_addr()));
            tunnels.push(tunnel);
        }
        let labels = self.evaluator.session().labels();
        let forwarder = backend
            .start_host_forwarder(&network.id, &forwards, &labels)
            .await?;
        // Until it is recorded, abandoning the start removes the forwarder.
        let unrecorded = self.remove_on_drop(&forwarder.id);
        let probes: Vec<Probe> = ports.iter().map(|p| Probe::Tcp(p.frontend())).collect();
        let target = health::Target {
            address: &forwarder.ip,
            container: Some(&forwarder),
        };
        let healthy = health::wait_healthy(
            backend,
            &target,
            &probes,
            self.defaults.health_timeout,
            hostname,
        )
        .await;
        if let Err(e) = healthy {
            task.finish("unreachable from the network");
            return Err(e);
        }
        unrecorded.disarm();
        task.finish("reachable");
        Ok(Running {
            endpoint: Endpoint {
                address: forwarder.ip.clone(),
                container: Some(forwarder),
            },
            _holds: Box::new(tunnels),
        })
    }

    /// The network services and their clients join, looked up on first use.
    ///
    /// The default one is shared by every session. Each client reaches its
    /// own session's instances: binding aliases and hostnames are host
    /// entries of the client, so nothing depends on the network's DNS (the
    /// default bridge has none).
    async fn network(&self) -> Result<NetworkInfo, Error> {
        let network = self
            .network
            .get_or_try_init(|| async {
                let backend = self.evaluator.backend();
                Ok::<_, Error>(match &self.choice {
                    ServiceNetworkChoice::DefaultBridge => {
                        let labels = self.evaluator.session().labels();
                        backend.default_network(&labels).await?
                    }
                    ServiceNetworkChoice::Dedicated { name, labels } => {
                        backend.ensure_network(name, labels).await?
                    }
                })
            })
            .await?;
        Ok(network.clone())
    }

    /// A guard that removes container `id` if the start that made it is abandoned.
    fn remove_on_drop(&self, id: &str) -> RemoveOnDrop {
        let (backend, id) = (self.evaluator.session().backend().clone(), id.to_string());
        RemoveOnDrop::new(async move {
            if let Err(e) = backend.stop_container(&id, true).await {
                warn!(error = %e, "could not remove an abandoned container");
            }
        })
    }

    /// Removes a dedicated network (its containers must be gone); the default bridge stays.
    pub async fn remove_network(&self) -> Result<(), Error> {
        if let ServiceNetworkChoice::Dedicated { name, .. } = &self.choice {
            self.evaluator.backend().remove_network(name).await?;
        }
        Ok(())
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
                // Only this task and the map hold an entry nobody uses.
                manager.forget(&entry, |holders| holders == 2);
            }
        });
    }

    /// Takes `entry` out of the map, if the map still has it and
    /// `unused(holders of the entry)` says so, so that a long-lived manager
    /// (a tenant's, in `berth serve`) keeps no slot for every service it ran.
    fn forget(&self, entry: &Arc<Entry>, unused: impl FnOnce(usize) -> bool) {
        let mut entries = lock(&self.entries);
        let current = entries
            .get(&entry.digest)
            .is_some_and(|e| Arc::ptr_eq(e, entry));
        if current && unused(Arc::strong_count(entry)) {
            entries.remove(&entry.digest);
        }
    }

    /// Services this manager keeps a slot for: running, starting, or in their grace period.
    pub fn services_known(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Stops a service that nobody holds; a failure is only logged.
    async fn remove(&self, running: Option<Running>) {
        if let Err(e) = self.stop_running(running, false).await {
            warn!(error = %e, "could not stop a service");
        }
    }

    /// Stops a taken-out service: its container, or its tunnels (by dropping them).
    async fn stop_running(&self, running: Option<Running>, kill: bool) -> Result<(), Error> {
        if let Some(container) = running.as_ref().and_then(|r| r.endpoint.container.as_ref()) {
            self.evaluator
                .backend()
                .stop_container(&container.id, kill)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ServiceBinder for ServiceManager {
    async fn bind(&self, bindings: &[(String, ServiceSpec)]) -> Result<BoundServices, Error> {
        if bindings.is_empty() {
            return match self.choice {
                ServiceNetworkChoice::DefaultBridge => Ok(BoundServices::default()),
                // Steps join a dedicated network even when they bind nothing.
                ServiceNetworkChoice::Dedicated { .. } => Ok(BoundServices {
                    network: Some(self.network().await?.id),
                    ..Default::default()
                }),
            };
        }
        // Every acquire runs to its end (none is cancelled half-started); if one
        // fails, the leases of the others drop here and release their services.
        let acquired = join_all(bindings.iter().map(|(_, service)| self.acquire(service))).await;
        let leases = acquired.into_iter().collect::<Result<Vec<_>, _>>()?;
        let network = self.network().await?;
        let mut bound = BoundServices {
            network: Some(network.id),
            ..Default::default()
        };
        for ((alias, _), lease) in bindings.iter().zip(leases) {
            let endpoint = lease.endpoint();
            // Entries for the alias and the hostname: a host service has no
            // container to carry a DNS alias.
            bound.hosts.push((alias.clone(), endpoint.address.clone()));
            bound
                .hosts
                .push((lease.hostname().to_string(), endpoint.address.clone()));
            if let Some(container) = &endpoint.container {
                bound.containers.push(container.id.clone());
                bound.hostnames.push(lease.hostname().to_string());
            }
            bound.holds.push(Box::new(lease));
        }
        Ok(bound)
    }
}

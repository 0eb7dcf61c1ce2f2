//! `berth:core/containers.container` and the free functions of that interface.

use std::sync::Arc;

use futures_util::future::join_all;
use tracing::instrument;
use wasmtime::component::Resource;

use crate::pipeline::Want;
use crate::services::ServiceManager;
use crate::spec::{ContainerSpec, ExposedPort, NewFile, Op, Probe, ServiceSpec};
use crate::wasm::bindings::berth::core::containers::Host;
use crate::wasm::bindings::berth::core::containers::{
    Container, Directory, Error, HostContainer, Probe as WitProbe, Protocol as WitProtocol, Service,
};
use crate::wasm::state::CallState;

/// File permissions when `with-new-file` gives none.
const DEFAULT_FILE_PERMISSIONS: u32 = 0o644;

impl CallState {
    /// A new table entry: `container` with `op` appended.
    fn derive(
        &mut self,
        container: &Resource<Container>,
        op: Op,
    ) -> wasmtime::Result<Resource<Container>> {
        let derived = self.table.get(container)?.with(op);
        Ok(self.table.push(derived)?)
    }

    /// A copy of the spec behind a handle (cheap: specs share their parts).
    fn container_spec(&self, container: &Resource<Container>) -> wasmtime::Result<ContainerSpec> {
        Ok(self.table.get(container)?.clone())
    }
}

impl HostContainer for CallState {
    async fn new(&mut self, address: String) -> wasmtime::Result<Resource<Container>> {
        Ok(self.table.push(ContainerSpec::new(&address))?)
    }

    async fn with_exec(
        &mut self,
        this: Resource<Container>,
        args: Vec<String>,
    ) -> wasmtime::Result<Resource<Container>> {
        self.derive(&this, Op::Exec(args.into()))
    }

    async fn with_new_file(
        &mut self,
        this: Resource<Container>,
        path: String,
        contents: Vec<u8>,
        permissions: Option<u32>,
    ) -> wasmtime::Result<Resource<Container>> {
        let file = NewFile {
            path,
            contents: contents.into(),
            permissions: permissions.unwrap_or(DEFAULT_FILE_PERMISSIONS) & 0o7777,
        };
        self.derive(&this, Op::NewFile(file))
    }

    async fn with_env_variable(
        &mut self,
        this: Resource<Container>,
        name: String,
        value: String,
    ) -> wasmtime::Result<Resource<Container>> {
        self.derive(&this, Op::EnvVariable { name, value })
    }

    async fn with_workdir(
        &mut self,
        this: Resource<Container>,
        path: String,
    ) -> wasmtime::Result<Resource<Container>> {
        self.derive(&this, Op::Workdir(path))
    }

    async fn with_entrypoint(
        &mut self,
        this: Resource<Container>,
        args: Vec<String>,
    ) -> wasmtime::Result<Resource<Container>> {
        self.derive(&this, Op::Entrypoint(args.into()))
    }

    async fn with_exposed_port(
        &mut self,
        this: Resource<Container>,
        port: u16,
        protocol: WitProtocol,
        description: Option<String>,
    ) -> wasmtime::Result<Resource<Container>> {
        let port = ExposedPort {
            number: port,
            protocol: protocol.into(),
            description,
        };
        self.derive(&this, Op::ExposedPort(port))
    }

    async fn with_service_binding(
        &mut self,
        this: Resource<Container>,
        alias: String,
        service: Resource<Service>,
    ) -> wasmtime::Result<Resource<Container>> {
        let service = self.table.get(&service)?.clone();
        self.derive(&this, Op::ServiceBinding { alias, service })
    }

    async fn with_health_check(
        &mut self,
        this: Resource<Container>,
        probes: Vec<WitProbe>,
        timeout_ms: Option<u32>,
    ) -> wasmtime::Result<Resource<Container>> {
        let probes = probes.into_iter().map(Probe::from).collect();
        self.derive(&this, Op::HealthCheck { probes, timeout_ms })
    }

    /// Each file of the snapshot becomes a new file under `path`, so the
    /// directory's contents enter the pipeline's digest.
    async fn with_directory(
        &mut self,
        this: Resource<Container>,
        path: String,
        dir: Resource<Directory>,
    ) -> wasmtime::Result<Resource<Container>> {
        let snapshot = self.table.get(&dir)?;
        let base = path.trim_end_matches('/');
        let mut spec = self.container_spec(&this)?;
        for file in &snapshot.files {
            spec = spec.with(Op::NewFile(NewFile {
                path: format!("{base}/{}", file.relative),
                contents: file.contents.clone(),
                permissions: file.permissions,
            }));
        }
        Ok(self.table.push(spec)?)
    }

    async fn as_service(
        &mut self,
        this: Resource<Container>,
        args: Option<Vec<String>>,
    ) -> wasmtime::Result<Resource<Service>> {
        let service = ServiceSpec::container(self.container_spec(&this)?, args.map(Into::into));
        Ok(self.table.push(service)?)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn sync(&mut self, this: Resource<Container>) -> wasmtime::Result<Result<(), Error>> {
        let spec = self.container_spec(&this)?;
        let evaluation = self.host.services.evaluate(&spec, Want::Output).await;
        Ok(evaluation.and_then(|e| e.check()).map_err(Error::from))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn stdout(
        &mut self,
        this: Resource<Container>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let spec = self.container_spec(&this)?;
        Ok(stdout_of(&self.host.services, &spec).await)
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn stderr(
        &mut self,
        this: Resource<Container>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let spec = self.container_spec(&this)?;
        let evaluation = self.host.services.evaluate(&spec, Want::Output).await;
        Ok(evaluation
            .and_then(|e| e.successful_exec().map(|output| output.stderr.clone()))
            .map_err(Error::from))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn exit_code(
        &mut self,
        this: Resource<Container>,
    ) -> wasmtime::Result<Result<i32, Error>> {
        let spec = self.container_spec(&this)?;
        let evaluation = self.host.services.evaluate(&spec, Want::Output).await;
        Ok(evaluation
            .and_then(|e| match e.last_exec {
                Some((_, output)) => Ok(output.exit_code),
                None => Err(crate::pipeline::Error::NoExec),
            })
            .map_err(Error::from))
    }

    #[instrument(skip(self, this), err(level = "debug"))]
    async fn file(
        &mut self,
        this: Resource<Container>,
        path: String,
    ) -> wasmtime::Result<Result<Vec<u8>, Error>> {
        let spec = self.container_spec(&this)?;
        Ok(self
            .host
            .services
            .file(&spec, &path)
            .await
            .map_err(Error::from))
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn digest(
        &mut self,
        this: Resource<Container>,
    ) -> wasmtime::Result<Result<String, Error>> {
        let spec = self.container_spec(&this)?;
        let digest = self.host.services.evaluator().digest(&spec).await;
        Ok(digest.map(|d| d.to_hex()).map_err(Error::from))
    }

    async fn drop(&mut self, this: Resource<Container>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl Host for CallState {
    #[instrument(skip_all, fields(count = containers.len()), err(level = "debug"))]
    async fn sync_all(
        &mut self,
        containers: Vec<Resource<Container>>,
    ) -> wasmtime::Result<Vec<Result<(), Error>>> {
        let specs = self.container_specs(&containers)?;
        let services = &self.host.services;
        let results = join_all(specs.iter().map(|spec| async move {
            services
                .evaluate(spec, Want::Output)
                .await
                .and_then(|e| e.check())
                .map_err(Error::from)
        }))
        .await;
        Ok(results)
    }

    #[instrument(skip_all, fields(count = containers.len()), err(level = "debug"))]
    async fn stdout_all(
        &mut self,
        containers: Vec<Resource<Container>>,
    ) -> wasmtime::Result<Vec<Result<String, Error>>> {
        let specs = self.container_specs(&containers)?;
        let services = &self.host.services;
        Ok(join_all(specs.iter().map(|spec| stdout_of(services, spec))).await)
    }
}

impl CallState {
    fn container_specs(
        &self,
        handles: &[Resource<Container>],
    ) -> wasmtime::Result<Vec<ContainerSpec>> {
        handles.iter().map(|h| self.container_spec(h)).collect()
    }
}

async fn stdout_of(services: &Arc<ServiceManager>, spec: &ContainerSpec) -> Result<String, Error> {
    let evaluation = services.evaluate(spec, Want::Output).await?;
    Ok(evaluation.successful_exec()?.stdout.clone())
}

impl From<WitProtocol> for crate::spec::Protocol {
    fn from(protocol: WitProtocol) -> Self {
        match protocol {
            WitProtocol::Tcp => crate::spec::Protocol::Tcp,
            WitProtocol::Udp => crate::spec::Protocol::Udp,
        }
    }
}

impl From<WitProbe> for Probe {
    fn from(probe: WitProbe) -> Self {
        match probe {
            WitProbe::Tcp(port) => Probe::Tcp(port),
            WitProbe::Http(http) => Probe::Http {
                port: http.port,
                path: http.path,
                status: http.status,
            },
            WitProbe::Exec(args) => Probe::Exec(args),
            WitProbe::LogLine(text) => Probe::LogLine(text),
        }
    }
}

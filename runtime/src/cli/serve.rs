use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use berth::policy::Policy;
use berth::server::{Server, Teardown, tenants};
use berth::wasm::Runtime;

/// `berth serve --tenants FILE [--listen ADDR]`
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The tenants file: each tenant's name, bearer token, berth.toml and quotas.
    #[arg(long, value_name = "FILE")]
    tenants: PathBuf,

    /// The address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

impl ServeArgs {
    pub async fn run(&self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let policy = Arc::new(Policy::load(config)?);
        let tenants = tenants::load(&self.tenants, &policy)?;
        let count = tenants.len();
        let runtime = Arc::new(Runtime::new(&berth::cache_dir())?);
        let engine = Arc::new(super::engine(&policy));
        let server = Server::new(runtime, tenants, &berth::data_dir(), engine);
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        let address = listener.local_addr()?;
        println!("berth: serving {count} tenants on http://{address}");
        let teardown = server
            .serve(listener, async {
                let signal = super::shutdown_signal().await;
                eprintln!("berth: {signal}: finishing the calls in flight, then stopping");
            })
            .await?;
        match teardown {
            Teardown::Complete => {
                eprintln!(
                    "berth: stopped; every container and network the tenants made is removed"
                );
                Ok(ExitCode::SUCCESS)
            }
            Teardown::StaleNetwork => {
                eprintln!(
                    "berth: stopped; every container is removed, but the engine keeps a stale endpoint on a tenant network (see the warning above), which blocks removing it until the engine restarts"
                );
                Ok(ExitCode::SUCCESS)
            }
            Teardown::Incomplete => {
                eprintln!(
                    "berth: stopped, but the engine kept some containers or networks (see the warnings above); `berth gc` removes them"
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

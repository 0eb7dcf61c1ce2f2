use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use berth::pipeline::{Evaluator, ExecCache};
use berth::policy::Policy;
use berth::progress::StderrProgress;
use berth::services::ServiceManager;
use berth::session::Session;
use berth::spec::ServiceSpec;
use berth::wasm::bindings::berth::core::types::ErrorKind;
use berth::wasm::{CallOutput, HostContext, OutputFormat, Runtime};

/// `berth call PLUGIN FUNCTION [--param value ...]`
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// Write results that are not strings as JSON instead of WAVE.
    #[arg(long)]
    json: bool,

    /// The plugin: a .wasm file, a project folder, or an installed NAME[@VERSION|@blake3:HEX].
    plugin: String,

    /// The exported function to call.
    function: String,

    /// The function's parameters: --name value (see `berth functions PLUGIN`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--PARAM VALUE"
    )]
    args: Vec<String>,
}

impl CallArgs {
    /// Calls the function; `verbose` (`-v`) also streams what services log.
    pub async fn run(&self, config: Option<&Path>, verbose: u8) -> anyhow::Result<ExitCode> {
        let policy = Arc::new(Policy::load(config)?);
        let cache_dir = berth::cache_dir();
        let runtime = Runtime::new(&cache_dir)?;
        let plugin = super::plugin::load(&runtime, &self.plugin)?;
        plugin.signature(&self.function)?;
        let (function_args, then) = super::then::split(&self.args)?;
        if let Some(then) = &then {
            then.check_allowed(&policy)?;
        }

        let session = Arc::new(
            Session::new(Arc::new(super::engine(&policy))).with_limits(policy.containers.clone()),
        );
        let evaluator = Evaluator::new(
            session.clone(),
            policy.images.clone(),
            ExecCache::new(cache_dir.join("exec")),
            Arc::new(StderrProgress::new().with_service_logs(verbose > 0)),
        );
        let host = Arc::new(HostContext {
            services: ServiceManager::new(Arc::new(evaluator), policy.services.clone()),
            policy,
        });
        let format = if self.json {
            OutputFormat::Json
        } else {
            OutputFormat::Wave
        };

        let services = host.services.clone();
        let work = async {
            let output = tokio::select! {
                output = plugin.call(host, &self.function, &function_args, format) => output?,
                signal = super::shutdown_signal() => {
                    anyhow::bail!("interrupted by {signal}; stopped everything this call started")
                }
            };
            match (output, then) {
                (output, None) => show(output, &services).await,
                (CallOutput::Service(service), Some(then)) => {
                    then.run(&services, &service).await?;
                    Ok(ExitCode::SUCCESS)
                }
                (CallOutput::Container(container), Some(then)) => {
                    then.run(&services, &ServiceSpec::container(container, None))
                        .await?;
                    Ok(ExitCode::SUCCESS)
                }
                (CallOutput::Failed(error), Some(_)) => Ok(show_error(&error)),
                (_, Some(_)) => anyhow::bail!(
                    "`{}` returned neither a service nor a container, so there is nothing to chain",
                    self.function
                ),
            }
        };
        let outcome = work.await;
        // Whatever happened, remove what this session made before reporting.
        let ended = session.end().await.context("cleaning up the session");
        let code = outcome?;
        ended?;
        Ok(code)
    }
}

/// Prints a result: text as it is, a returned container or service by its digest or hostname.
async fn show(output: CallOutput, services: &Arc<ServiceManager>) -> anyhow::Result<ExitCode> {
    let text = match output {
        CallOutput::Value(text) => text,
        CallOutput::Nothing => return Ok(ExitCode::SUCCESS),
        CallOutput::Failed(error) => return Ok(show_error(&error)),
        CallOutput::Service(service) => format!("service {}", services.identify(&service).await?.1),
        CallOutput::Container(container) => {
            format!(
                "container {}",
                services.evaluator().digest(&container).await?
            )
        }
    };
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a berth error the function returned; the exit status is 1.
fn show_error(error: &berth::wasm::bindings::berth::core::types::Error) -> ExitCode {
    eprintln!("berth: error: {}: {}", error.kind, error.message);
    // A failed command's message holds only its last stderr line; show more.
    let command_stderr = match error.kind {
        ErrorKind::ExecFailed => error.stderr.as_deref(),
        _ => None,
    };
    if let Some(stderr) = command_stderr.filter(|s| !s.trim().is_empty()) {
        for line in tail(stderr, 20) {
            eprintln!("  | {line}");
        }
    }
    ExitCode::FAILURE
}

fn tail(text: &str, lines: usize) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].to_vec()
}

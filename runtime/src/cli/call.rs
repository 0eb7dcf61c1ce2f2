use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use berth::backend::docker::DockerBackend;
use berth::pipeline::{Evaluator, ExecCache};
use berth::policy::Policy;
use berth::progress::StderrProgress;
use berth::services::ServiceManager;
use berth::session::Session;
use berth::wasm::bindings::berth::core::types::ErrorKind;
use berth::wasm::{CallOutput, HostContext, OutputFormat, Runtime};

/// `berth call PLUGIN FUNCTION [--param value ...]`
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// Write results that are not strings as JSON instead of WAVE.
    #[arg(long)]
    json: bool,

    /// The plugin's .wasm file.
    plugin: PathBuf,

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
    pub async fn run(&self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let policy = Arc::new(Policy::load(config)?);
        let cache_dir = berth::cache_dir();
        let runtime = Runtime::new(&cache_dir)?;
        let plugin = runtime.load(&self.plugin)?;
        plugin.signature(&self.function)?;

        let session = Arc::new(Session::new(Arc::new(DockerBackend::new())));
        let evaluator = Evaluator::new(
            session.clone(),
            policy.images.clone(),
            ExecCache::new(cache_dir.join("exec")),
            Arc::new(StderrProgress::new()),
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

        let call = plugin.call(host, &self.function, &self.args, format);
        let outcome = tokio::select! {
            outcome = call => outcome.map_err(anyhow::Error::from),
            signal = shutdown_signal() => Err(anyhow::anyhow!("interrupted by {signal}; stopped everything this call started")),
        };
        // Whatever happened, remove what this session made before reporting.
        let ended = session.end().await.context("cleaning up the session");
        let output = outcome?;
        ended?;
        Ok(show(output))
    }
}

fn show(output: CallOutput) -> ExitCode {
    match output {
        CallOutput::Value(text) => {
            if text.ends_with('\n') {
                print!("{text}");
            } else {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        CallOutput::Nothing => ExitCode::SUCCESS,
        CallOutput::Failed(error) => {
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
    }
}

fn tail(text: &str, lines: usize) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].to_vec()
}

/// Resolves on Ctrl-C or SIGTERM, naming the signal.
async fn shutdown_signal() -> &'static str {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

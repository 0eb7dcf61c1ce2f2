//! Subcommands, one file each.

mod build;
mod call;
mod functions;
mod gc;
mod new;
mod plugin;
mod serve;
mod then;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run WebAssembly plugin functions that build containers and services.
#[derive(Parser, Debug)]
#[command(name = "berth", version)]
pub struct Cli {
    /// berth.toml to use instead of the one in the current directory.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Show more: -v for details of errors and steps and what services log, -vv for engine calls.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Call a function of a plugin: berth call PLUGIN FUNCTION [--param value ...]
    Call(call::CallArgs),
    /// List a plugin's exported functions with their WIT signatures.
    Functions(functions::FunctionsArgs),
    /// Remove what berth processes that are gone left behind (and, with --all, the exec cache).
    Gc(gc::GcArgs),
    /// Create a plugin project: berth new --lang rust|python|js|c NAME
    New(new::NewArgs),
    /// Build the plugin project in DIR (default: here) with the command in its berth-plugin.toml.
    Build(build::BuildArgs),
    /// Manage installed plugins: install, list, inspect, remove, push.
    Plugin(plugin::PluginArgs),
    /// Serve an HTTP API for tenants to upload and call plugins.
    Serve(serve::ServeArgs),
}

impl Cli {
    /// Runs the subcommand; the exit code tells whether the function succeeded.
    pub async fn run(&self) -> anyhow::Result<ExitCode> {
        match &self.command {
            Command::Call(args) => args.run(self.config.as_deref(), self.verbose).await,
            Command::Functions(args) => args.run(),
            Command::Gc(args) => args.run(self.config.as_deref()).await,
            Command::New(args) => args.run(),
            Command::Build(args) => args.run(),
            Command::Plugin(args) => args.run(self.config.as_deref()).await,
            Command::Serve(args) => args.run(self.config.as_deref()).await,
        }
    }
}

/// The engine berth runs on (`DOCKER_HOST`, else the local socket), talked
/// to as the policy's `[engine]` says.
pub fn engine(policy: &berth::policy::Policy) -> berth::backend::docker::DockerBackend {
    berth::backend::docker::DockerBackend::configured(&policy.engine)
}

/// Logs to stderr: warnings by default, more with -v.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,berth=debug",
        _ => "debug,berth=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Resolves on Ctrl-C or SIGTERM, naming the signal.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

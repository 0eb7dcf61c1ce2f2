//! The engine suite: the tests that run on every engine besides the local
//! dockerd, built once and run on all of those engines at the same time.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::engines::Engine;
use crate::{cargo, root};

/// The integration tests that run on every engine, not only the local dockerd.
pub const ENGINE_SUITE: &[&str] = &["services", "host_networking", "pipelines"];

/// Test threads per engine: two engines at once on a 2-core machine run as
/// many tests side by side as the local suite's four.
const THREADS_PER_ENGINE: &str = "--test-threads=2";

/// Runs the engine suite on each of `engines` at once; what failed, per engine.
///
/// `cargo test` holds the build directory's lock while its tests run, so two
/// at once would take turns: the test executables are built once here and
/// run directly, each engine's output kept apart and shown when it ends.
pub fn run_on(engines: &[&'static Engine]) -> Result<Vec<String>> {
    let executables = build()?;
    let runs: Vec<_> = engines
        .iter()
        .map(|&engine| {
            let executables = executables.clone();
            std::thread::spawn(move || (engine, run_suite(engine, &executables)))
        })
        .collect();
    let mut failed = Vec::new();
    for run in runs {
        let (engine, result) = run
            .join()
            .map_err(|_| anyhow::anyhow!("an engine suite's thread panicked"))?;
        let (output, passed) = result?;
        eprintln!(
            "xtask: the engine suite on the {} engine ({}):",
            engine.name, engine.host
        );
        eprint!("{output}");
        if !passed {
            failed.push(format!("{} engine: the engine suite failed", engine.name));
        }
    }
    Ok(failed)
}

/// Builds the engine suite's test executables; their paths.
fn build() -> Result<Vec<PathBuf>> {
    let mut command = cargo();
    command.args([
        "test",
        "--no-run",
        "--package",
        "berth",
        "--message-format=json",
    ]);
    for test in ENGINE_SUITE {
        command.args(["--test", test]);
    }
    let output = command
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .context("building the engine suite")?;
    if !output.status.success() {
        bail!("building the engine suite failed");
    }
    let executables: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["profile"]["test"] == true)
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .collect();
    if executables.len() != ENGINE_SUITE.len() {
        bail!(
            "building the engine suite gave {} test executables, not {}",
            executables.len(),
            ENGINE_SUITE.len()
        );
    }
    Ok(executables)
}

/// Runs every executable on `engine`, as `cargo test` would (from the
/// package's directory, going on after a failure); the output and whether all passed.
fn run_suite(engine: &Engine, executables: &[PathBuf]) -> Result<(String, bool)> {
    let mut shown = String::new();
    let mut passed = true;
    for executable in executables {
        let output = Command::new(executable)
            .arg(THREADS_PER_ENGINE)
            .current_dir(root().join("runtime"))
            .env("DOCKER_HOST", engine.host)
            .output()
            .with_context(|| format!("running {}", executable.display()))?;
        shown.push_str(&format!("     Running {}\n", executable.display()));
        shown.push_str(&String::from_utf8_lossy(&output.stdout));
        shown.push_str(&String::from_utf8_lossy(&output.stderr));
        passed &= output.status.success();
    }
    Ok((shown, passed))
}

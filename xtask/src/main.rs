//! `cargo xtask`: build plugins and local images, run the demo and the tests.

mod bench;
mod engine;
mod engines;
mod fuzz;
mod images;
mod languages;
mod plugins;
mod suite;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  build-plugins   build every plugin under plugins/ into target/plugins/NAME.wasm
                  (greet-python, greet-js and greet-c install their toolchains first)
  images          build the local base images (busybox, python, mariadb) when missing
  demo            set everything up and call a plugin function that runs a container
  engines         start the namespaced dockerd and Podman with the local images, and
                  print the DOCKER_HOST of each
  test            set everything up and run every test, then the engine suite on a
                  dockerd berth cannot route to and on Podman
  bench           set everything up, measure, and write BENCHMARKS.md
  fuzz [SECONDS]  run each fuzz target under fuzz/ for SECONDS (default 60)";

fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    match command.as_str() {
        "build-plugins" => plugins::build(),
        "images" => {
            engine::ensure_running()?;
            images::build_missing()
        }
        "demo" => demo(),
        "engines" => {
            // The other engines get their images from the local one.
            engine::ensure_running()?;
            images::build_missing()?;
            for engine in other_engines()? {
                println!("DOCKER_HOST={} (the {} engine)", engine.host, engine.name);
            }
            Ok(())
        }
        "test" => test(),
        "fuzz" => fuzz::fuzz(std::env::args().nth(2).as_deref()),
        "bench" => {
            set_up()?;
            bench::bench()
        }
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown command `{command}`")
        }
    }
}

/// The repository root (the parent of xtask/).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Runs a command in the repository root, failing when it fails.
fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

fn set_up() -> Result<()> {
    engine::install_missing(engine::DEMO_PACKAGES)?;
    plugins::build()?;
    engine::ensure_running()?;
    images::build_missing()
}

/// The seed's two service examples, end to end: a function's HTTP service
/// `up` on a host port and fetched from the host, then clients bound to it.
fn demo() -> Result<()> {
    engine::install_missing(engine::DEMO_PACKAGES)?;
    plugins::build_rust(&["http-demo"], &root().join("target/plugins"))?;
    engine::ensure_running()?;
    images::build_missing_of(&[images::BUSYBOX, "berth.local/python:latest"])?;
    run(cargo().args(["build", "--quiet", "--package", "berth"]))?;
    let berth = root().join("target/debug/berth");
    let plugin = "target/plugins/http-demo.wasm";

    println!("$ berth call {plugin} http-service up --ports 8080:8080");
    let mut up = Command::new(&berth)
        .current_dir(root())
        .args(["call", plugin, "http-service", "up", "--ports", "8080:8080"])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting berth")?;
    let mut tunnel = String::new();
    let stdout = up.stdout.take().context("berth's stdout")?;
    std::io::BufReader::new(stdout).read_line(&mut tunnel)?;
    print!("{tunnel}");
    let fetched = (|| {
        if tunnel.is_empty() {
            bail!("`up` ended before its tunnel listened");
        }
        println!("$ curl -s http://127.0.0.1:8080");
        run(Command::new("curl").args(["-s", "http://127.0.0.1:8080"]))?;
        println!();
        Ok(())
    })();
    // SIGINT, as Ctrl-C: `up` stops the service and removes what it made.
    println!("$ kill -INT {}   # Ctrl-C", up.id());
    run(Command::new("kill").args(["-INT", &up.id().to_string()]))?;
    let stopped = up.wait()?;
    fetched?;
    if !stopped.success() {
        bail!("`up` exited with {stopped}");
    }

    println!("$ berth call {plugin} fetch-many --clients 3");
    run(Command::new(&berth).args(["call", plugin, "fetch-many", "--clients", "3"]))
}

fn test() -> Result<()> {
    engine::install_missing(engine::TEST_PACKAGES)?;
    set_up()?;
    engine::ensure_registry()?;
    let local = cargo_test();
    let mut failed: Vec<String> = local
        .err()
        .map(|e| format!("local dockerd: {e}"))
        .into_iter()
        .collect();
    match other_engines().and_then(|others| suite::run_on(&others)) {
        Ok(engine_failures) => failed.extend(engine_failures),
        Err(e) => failed.push(format!("{e:#}")),
    }
    if !failed.is_empty() {
        bail!("tests failed: {}", failed.join("; "));
    }
    Ok(())
}

/// The engines besides the local dockerd, started, with the local images.
pub(crate) fn other_engines() -> Result<Vec<&'static engines::Engine>> {
    let all = [engines::ensure_namespaced()?, engines::ensure_podman()?];
    for engine in all {
        engines::copy_images(engine, &images::all())?;
    }
    Ok(all.to_vec())
}

/// `cargo test` of the workspace on the local dockerd.
fn cargo_test() -> Result<()> {
    // The benchmarks' comparison tools are not needed to test berth.
    run(cargo().args([
        "test",
        "--workspace",
        "--exclude",
        "berth-bench",
        "--no-fail-fast",
        "--",
        "--test-threads=4",
    ]))
}

//! The Docker engine the tests and the demo run on.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// Starts Debian's dockerd in the background when no engine answers.
pub fn ensure_running() -> Result<()> {
    if answers() {
        return Ok(());
    }
    if std::env::var_os("DOCKER_HOST").is_some() {
        bail!("no Docker engine answers at DOCKER_HOST; start it, or unset DOCKER_HOST");
    }
    if Command::new("dockerd").arg("--version").output().is_err() {
        bail!(
            "no Docker engine answers and dockerd is not installed: apt-get install -y docker.io"
        );
    }
    eprintln!("xtask: starting dockerd");
    let log = std::fs::File::create("/tmp/berth-dockerd.log")?;
    Command::new("dockerd")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("dockerd did not answer within 60s; see /tmp/berth-dockerd.log")
}

fn answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The address of the local registry the pull tests push to.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// Starts Debian's docker-registry on 127.0.0.1:5000 when nothing listens there.
pub fn ensure_registry() -> Result<()> {
    if std::net::TcpStream::connect(REGISTRY).is_ok() {
        return Ok(());
    }
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::run(Command::new("apt-get").args(["install", "-y", "docker-registry"]))?;
    }
    let dir = crate::root().join("target/registry");
    std::fs::create_dir_all(dir.join("data"))?;
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {REGISTRY}\n",
            dir.join("data").display()
        ),
    )?;
    eprintln!("xtask: starting docker-registry on {REGISTRY}");
    let log = std::fs::File::create(dir.join("registry.log"))?;
    Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(REGISTRY).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "docker-registry did not listen on {REGISTRY} within 30s; see target/registry/registry.log"
    )
}

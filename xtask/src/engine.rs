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

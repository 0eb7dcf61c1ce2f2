//! The Docker engine the tests and the demo run on, and what a fresh Debian
//! machine lacks for them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What the demo needs: `(a file or command that shows it is there, its Debian package)`.
pub const DEMO_PACKAGES: &[(&str, &str)] = &[
    ("dockerd", "docker.io"),
    ("debootstrap", "debootstrap"),
    ("/bin/busybox", "busybox-static"),
    ("curl", "curl"),
];

/// What the tests need besides: the registry the pull tests push to, and
/// the second engine they run on.
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    ("docker-registry", "docker-registry"),
    ("podman", "podman"),
    ("ip", "iproute2"),
    ("iptables", "iptables"),
];

/// Installs the packages of `wanted` whose command or file is missing, with apt.
pub fn install_missing(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(probe, _)| !present(probe))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    crate::run(Command::new("apt-get").args(["update", "-qq"]))?;
    crate::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq"])
            .args(&missing),
    )
}

/// Whether `probe` (an absolute path, or a command on PATH) is there.
fn present(probe: &str) -> bool {
    if probe.starts_with('/') {
        return Path::new(probe).exists();
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join(probe).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|dir| Path::new(dir).join(probe).is_file())
    })
}

/// Starts Debian's dockerd in the background when no engine answers.
///
/// Under `CI=true` the engine's network state goes first (the `docker0` link
/// and the network store), so that every CI run meets a first-start engine,
/// as a new machine does: its default bridge states no gateway.
pub fn ensure_running() -> Result<()> {
    if answers(None) {
        return Ok(());
    }
    if std::env::var_os("DOCKER_HOST").is_some() {
        bail!("no Docker engine answers at DOCKER_HOST; start it, or unset DOCKER_HOST");
    }
    install_missing(DEMO_PACKAGES)?;
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        forget_network_state()?;
    }
    eprintln!("xtask: starting dockerd");
    let log = Path::new("/tmp/berth-dockerd.log");
    spawn_logged(&mut Command::new("dockerd"), log)?;
    wait_until_answering(None, "dockerd", log)
}

/// Starts `command` in the background, its stdout and stderr in `log`.
pub fn spawn_logged(command: &mut Command, log: &Path) -> Result<()> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command
        .stdout(Stdio::from(file.try_clone()?))
        .stderr(Stdio::from(file))
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    Ok(())
}

/// Removes what a dockerd that ran before remembers of its networks.
fn forget_network_state() -> Result<()> {
    eprintln!("xtask: removing the engine's network state, for a first start");
    // Absent on a machine whose engine never ran: nothing to remove.
    let _ = Command::new("ip")
        .args(["link", "delete", "docker0"])
        .stderr(Stdio::null())
        .status();
    match std::fs::remove_file("/var/lib/docker/network/files/local-kv.db") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context("removing /var/lib/docker/network/files/local-kv.db")
        }
        _ => Ok(()),
    }
}

/// Waits a minute at most for the engine at `host` (the default one when
/// `None`) to answer.
pub fn wait_until_answering(host: Option<&str>, what: &str, log: &Path) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if answers(host) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("{what} did not answer within 60s; see {}", log.display())
}

/// Whether the engine at `host` (the default one when `None`) answers.
pub fn answers(host: Option<&str>) -> bool {
    let mut docker = Command::new("docker");
    if let Some(host) = host {
        docker.env("DOCKER_HOST", host);
    }
    docker
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
    install_missing(&[("docker-registry", "docker-registry")])?;
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
    spawn_logged(
        Command::new("docker-registry").arg("serve").arg(&config),
        &dir.join("registry.log"),
    )?;
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

//! The engines besides the local dockerd that the tests run on: a dockerd
//! berth cannot route to, and Podman. Each is started when it does not answer.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::engine::{answers, spawn_logged, wait_until_answering};
use crate::run;

/// An engine the suite runs on, and how to reach it.
pub struct Engine {
    /// What the engine is called in xtask's output and in BENCHMARKS.md.
    pub name: &'static str,
    /// Its `DOCKER_HOST`.
    pub host: &'static str,
    /// Whether its container addresses route from this host.
    pub routes_from_here: bool,
}

/// The dockerd in its own network namespace: reached only through its unix
/// socket, with container subnets that do not route from the host.
pub const NAMESPACED: Engine = Engine {
    name: "namespaced",
    host: "unix:///run/berth-ns-docker.sock",
    routes_from_here: false,
};

/// Debian's Podman, serving the Docker API.
pub const PODMAN: Engine = Engine {
    name: "podman",
    host: "unix:///run/podman/podman.sock",
    routes_from_here: true,
};

/// The network namespace of the namespaced engine.
const NETNS: &str = "berth-ns";
/// The veth pair between the host (`HOST_LINK`, 10.231.0.1) and the namespace (10.231.0.2).
const HOST_LINK: &str = "berth-ns0";
const NS_LINK: &str = "berth-ns1";
/// The namespaced engine's default bridge and its pool for other networks:
/// from the host, both are unreachable (an `unreachable` route), so an
/// attempt to dial a container there fails here and never leaves.
const NS_BRIDGE: &str = "10.232.0.1/24";
const NS_POOL: &str = "base=10.233.0.0/16,size=24";
const NS_UNREACHABLE: &str = "10.232.0.0/15";

/// What the namespaced dockerd needs: `(a command that shows it is there, its Debian package)`.
const NAMESPACED_PACKAGES: &[(&str, &str)] = &[
    ("dockerd", "docker.io"),
    ("ip", "iproute2"),
    ("iptables", "iptables"),
    ("nsenter", "util-linux"),
];

/// Starts the namespaced dockerd when it does not answer.
pub fn ensure_namespaced() -> Result<&'static Engine> {
    if answers(Some(NAMESPACED.host)) {
        return Ok(&NAMESPACED);
    }
    crate::engine::install_missing(NAMESPACED_PACKAGES)?;
    eprintln!("xtask: starting a dockerd in network namespace {NETNS}");
    set_up_namespace()?;
    let script = format!(
        "set -e
mount --make-rprivate /
mkdir -p /run/berth-ns/cgroup
mount --rbind /sys/fs/cgroup /run/berth-ns/cgroup
mount -t sysfs sysfs /sys
mount --rbind /run/berth-ns/cgroup /sys/fs/cgroup
exec dockerd --data-root /var/lib/berth-ns-docker --exec-root /run/berth-ns-docker \
  --pidfile /run/berth-ns-docker.pid -H {host} --bip {NS_BRIDGE} --default-address-pool {NS_POOL}",
        host = NAMESPACED.host
    );
    let log = Path::new("/tmp/berth-ns-dockerd.log");
    spawn_logged(
        Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{NETNS}"))
            .args(["unshare", "--mount", "sh", "-c", &script]),
        log,
    )?;
    wait_until_answering(Some(NAMESPACED.host), "the namespaced dockerd", log)?;
    Ok(&NAMESPACED)
}

/// The namespace, its link to the host, and the rules that keep its traffic here.
fn set_up_namespace() -> Result<()> {
    let ip = |args: &[&str]| run(Command::new("ip").args(args));
    let exists = Command::new("ip")
        .args(["netns", "pids", NETNS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        ip(&["netns", "add", NETNS])?;
        ip(&[
            "link", "add", HOST_LINK, "type", "veth", "peer", "name", NS_LINK,
        ])?;
        ip(&["link", "set", NS_LINK, "netns", NETNS])?;
        ip(&["addr", "add", "10.231.0.1/30", "dev", HOST_LINK])?;
        ip(&["link", "set", HOST_LINK, "up"])?;
        ip(&["-n", NETNS, "addr", "add", "10.231.0.2/30", "dev", NS_LINK])?;
        ip(&["-n", NETNS, "link", "set", NS_LINK, "up"])?;
        ip(&["-n", NETNS, "link", "set", "lo", "up"])?;
        ip(&["-n", NETNS, "route", "add", "default", "via", "10.231.0.1"])?;
    }
    // Idempotent: `replace` and a check before each insert.
    ip(&["route", "replace", "unreachable", NS_UNREACHABLE])?;
    let forward_drop = ["FORWARD", "-i", HOST_LINK, "-j", "DROP"];
    let present = Command::new("iptables")
        .arg("-C")
        .args(forward_drop)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        // The namespace reaches this host's own addresses, and nothing beyond.
        run(Command::new("iptables").arg("-I").args(forward_drop))?;
    }
    Ok(())
}

/// Starts Podman's Docker-API service when it does not answer.
pub fn ensure_podman() -> Result<&'static Engine> {
    if answers(Some(PODMAN.host)) {
        return Ok(&PODMAN);
    }
    crate::engine::install_missing(&[("podman", "podman")])?;
    configure_podman().context("writing /etc/containers/containers.conf")?;
    std::fs::create_dir_all("/run/podman")?;
    eprintln!("xtask: starting podman system service");
    let log = Path::new("/tmp/berth-podman.log");
    spawn_logged(
        Command::new("podman").args(["system", "service", "--time=0", PODMAN.host]),
        log,
    )?;
    wait_until_answering(Some(PODMAN.host), "podman system service", log)?;
    Ok(&PODMAN)
}

/// What the suite needs of Podman's configuration:
/// - its default ulimits pass this machine's hard limits: without these,
///   every container fails with `error setting rlimit`;
/// - its events log is rotated at 1 MiB by default, and a rotation ends
///   the event streams that follow it, which lose every later event.
fn configure_podman() -> std::io::Result<()> {
    let conf = Path::new("/etc/containers/containers.conf");
    let mut text = std::fs::read_to_string(conf).unwrap_or_default();
    let wanted = [
        (
            "[containers]",
            "default_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]",
        ),
        ("[engine]", "events_logfile_max_size = \"0\""),
    ];
    for (table, setting) in wanted {
        let key = setting.split(' ').next().unwrap_or(setting);
        if text.contains(key) {
            continue;
        }
        text = match text.find(&format!("{table}\n")) {
            Some(at) => {
                let after = at + table.len() + 1;
                format!("{}{setting}\n{}", &text[..after], &text[after..])
            }
            None => format!("{text}\n{table}\n{setting}\n"),
        };
    }
    std::fs::create_dir_all("/etc/containers")?;
    std::fs::write(conf, text)
}

/// Copies the local images `tags` to `engine` when it lacks them (no
/// registry here, so `docker save | docker load`).
pub fn copy_images(engine: &Engine, tags: &[&str]) -> Result<()> {
    let missing: Vec<&str> = tags
        .iter()
        .copied()
        .filter(|tag| {
            !Command::new("docker")
                .env("DOCKER_HOST", engine.host)
                .args(["image", "inspect", tag])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "xtask: copying {} to the {} engine",
        missing.join(" "),
        engine.name
    );
    let mut save = Command::new("docker")
        .env_remove("DOCKER_HOST")
        .arg("save")
        .args(&missing)
        .stdout(Stdio::piped())
        .spawn()
        .context("docker save")?;
    let stdout = save.stdout.take().context("docker save's stdout")?;
    let load = Command::new("docker")
        .env("DOCKER_HOST", engine.host)
        .args(["load", "--quiet"])
        .stdin(Stdio::from(stdout))
        .status()
        .context("docker load")?;
    let saved = save.wait()?;
    if !saved.success() || !load.success() {
        anyhow::bail!("copying images to the {} engine failed", engine.name);
    }
    Ok(())
}

//! What the caller tells a backend about how to run: limits every container
//! is held to, request deadlines, and how to reach containers. `policy`
//! fills these from berth.toml; the backend reads nothing else.

use std::time::Duration;

/// How long a short engine request (create, inspect, remove) may take, unless configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The image of the helper containers berth runs where it cannot dial
/// container addresses itself: it needs `sh`, `sleep` and busybox's `nc`.
pub const DEFAULT_RELAY_IMAGE: &str = "busybox";

/// What every container berth starts is held to.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerLimits {
    /// Memory, in bytes (swap included).
    pub memory: u64,
    /// CPUs, as a fraction of cores.
    pub cpus: f64,
    /// Processes and threads.
    pub pids: u32,
}

impl Default for ContainerLimits {
    fn default() -> Self {
        ContainerLimits {
            memory: 512 << 20,
            cpus: 1.0,
            pids: 256,
        }
    }
}

/// How berth reaches the ports of service containers (`[engine] reach`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reachability {
    /// Directly where the network's bridge is an interface of this host,
    /// else through a relay container on the network.
    #[default]
    Auto,
    /// Always through a relay container, even where dialling would work.
    Relay,
}

/// How berth talks to the container engine (`[engine]` in berth.toml).
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// How long one short request may go unanswered before it fails.
    pub timeout: Duration,
    /// How berth reaches the ports of service containers.
    pub reach: Reachability,
    /// The image of the relay containers berth runs where it cannot dial
    /// container addresses (after `[images] rewrite`; never held to `allow`,
    /// since no plugin chooses it).
    pub relay_image: String,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            timeout: DEFAULT_REQUEST_TIMEOUT,
            reach: Reachability::Auto,
            relay_image: DEFAULT_RELAY_IMAGE.to_string(),
        }
    }
}

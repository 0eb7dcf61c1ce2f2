//! Tunnels across the host boundary: a service to the calling host (`up`),
//! and a host port to containers (`host.service`). Both are one TCP forwarder.

mod publish;
mod tunnel;

pub use publish::{PortMapping, Publication, PublishError, default_mappings, publish};
pub use tunnel::{Peers, Target, Tunnel};

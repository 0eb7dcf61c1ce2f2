//! How berth reaches the containers of a network: directly, when the
//! network's bridge is an interface of this host, or through the engine.
//!
//! The check is made, not assumed: a network is reached directly only when
//! one of this host's own interfaces holds an address inside the subnet the
//! engine gave the network. Then a container's address is on a link of this
//! host, and no route elsewhere can answer for it. Everything else (Docker
//! Desktop, rootless engines, a remote `DOCKER_HOST`, an engine in another
//! network namespace) goes through a relay container on the network.

use std::net::IpAddr;

use ipnet::IpNet;

/// How berth reaches the containers of one network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reach {
    /// The network's bridge is an interface of this host, which is `host`
    /// on it: container addresses are dialled from this process, and
    /// containers reach this host at `host`.
    Direct { host: IpAddr },
    /// Through a relay container on the network, by exec.
    Relayed,
}

/// This host's address on a network of `subnets`: the address of one of its
/// interfaces that lies inside one of them. Loopback addresses never count.
pub(super) fn host_address_on(subnets: &[IpNet], interfaces: &[IpAddr]) -> Option<IpAddr> {
    interfaces
        .iter()
        .copied()
        .filter(|address| !address.is_loopback())
        .find(|address| subnets.iter().any(|subnet| subnet.contains(address)))
}

/// The addresses of this host's interfaces.
pub(super) fn interface_addresses() -> Vec<IpAddr> {
    interface_networks().iter().map(IpNet::addr).collect()
}

/// The addresses of this host's interfaces, each with its prefix (none
/// when they cannot be read).
pub(super) fn interface_networks() -> Vec<IpNet> {
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list this host's interfaces; reaching containers through the engine");
            return Vec::new();
        }
    };
    interfaces
        .into_iter()
        .filter_map(|interface| match interface.addr {
            if_addrs::IfAddr::V4(v4) => IpNet::new(v4.ip.into(), v4.prefixlen).ok(),
            if_addrs::IfAddr::V6(v6) => IpNet::new(v6.ip.into(), v6.prefixlen).ok(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(subnets: &[&str]) -> Vec<IpNet> {
        subnets.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn addresses(addresses: &[&str]) -> Vec<IpAddr> {
        addresses.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn an_interface_inside_the_subnet_is_the_host_on_the_network() {
        let host = host_address_on(
            &nets(&["172.17.0.0/16"]),
            &addresses(&["127.0.0.1", "192.0.2.2", "172.17.0.1"]),
        );
        assert_eq!(host, Some("172.17.0.1".parse().unwrap()));
    }

    #[test]
    fn a_subnet_on_no_interface_of_this_host_is_not_direct() {
        // An engine in another network namespace: its subnet may even be
        // routed from here, to somewhere else.
        let host = host_address_on(
            &nets(&["10.233.1.0/24"]),
            &addresses(&["127.0.0.1", "192.0.2.2", "172.17.0.1", "10.231.0.1"]),
        );
        assert_eq!(host, None);
    }

    #[test]
    fn a_network_without_a_subnet_or_on_loopback_is_not_direct() {
        assert_eq!(host_address_on(&[], &addresses(&["172.17.0.1"])), None);
        assert_eq!(
            host_address_on(&nets(&["127.0.0.0/8"]), &addresses(&["127.0.0.1"])),
            None
        );
    }
}

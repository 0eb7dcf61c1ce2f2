use std::time::Duration;

use tokio::net::TcpStream;

use super::{ProbeFailure, Target};
use crate::backend::ContainerBackend;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Passes when `port` accepts a TCP connection: a service's, checked by its
/// backend where only the service can answer, or a host service's, dialled here.
pub(super) async fn check(
    backend: &dyn ContainerBackend,
    target: &Target<'_>,
    port: u16,
) -> Result<(), ProbeFailure> {
    if let Some(container) = target.container {
        return backend
            .check_port(container, port)
            .await
            .map_err(|e| ProbeFailure::engine(&e));
    }
    let address = target.address;
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((address, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ProbeFailure::no_answer(format!("{address}:{port}: {e}"))),
        Err(_) => Err(ProbeFailure::no_answer(format!(
            "{address}:{port}: connect timed out"
        ))),
    }
}

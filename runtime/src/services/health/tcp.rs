use std::time::Duration;

use tokio::net::TcpStream;

use super::ProbeFailure;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Passes when a TCP connection to `ip:port` is accepted.
pub(super) async fn check(ip: &str, port: u16) -> Result<(), ProbeFailure> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((ip, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ProbeFailure::no_answer(format!("{ip}:{port}: {e}"))),
        Err(_) => Err(ProbeFailure::no_answer(format!(
            "{ip}:{port}: connect timed out"
        ))),
    }
}

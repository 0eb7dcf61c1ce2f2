use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ProbeFailure, Target};
use crate::backend::{ContainerBackend, PortStream};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Passes when `GET path` answers with `status` (or any 2xx/3xx when `None`).
pub(super) async fn check(
    backend: &dyn ContainerBackend,
    target: &Target<'_>,
    port: u16,
    path: &str,
    status: Option<u16>,
) -> Result<(), ProbeFailure> {
    let ip = target.address;
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, status_of(backend, target, port, path))
        .await
        .map_err(|_| ProbeFailure::no_answer(format!("{ip}:{port}{path}: no answer in time")))??;
    let wanted = match status {
        Some(wanted) => answer == wanted,
        None => (200..400).contains(&answer),
    };
    if wanted {
        Ok(())
    } else {
        Err(ProbeFailure::wrong_answer(format!(
            "GET {path} answered {answer}"
        )))
    }
}

/// The status code of a plain HTTP/1.0 GET.
async fn status_of(
    backend: &dyn ContainerBackend,
    target: &Target<'_>,
    port: u16,
    path: &str,
) -> Result<u16, ProbeFailure> {
    let ip = target.address;
    let mut stream: PortStream = match target.container {
        Some(container) => backend
            .open_port(container, port)
            .await
            .map_err(|e| ProbeFailure::engine(&e))?,
        None => Box::new(
            TcpStream::connect((ip, port))
                .await
                .map_err(|e| ProbeFailure::no_answer(format!("{ip}:{port}: {e}")))?,
        ),
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| ProbeFailure::no_answer(format!("sending the request: {e}")))?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() && !head[..read].contains(&b'\n') {
        match stream.read(&mut head[read..]).await {
            // A relayed connection that never reached the service ends at once.
            Ok(0) if read == 0 => {
                return Err(ProbeFailure::no_answer(format!("{ip}:{port}: no answer")));
            }
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(ProbeFailure::no_answer(format!("reading the answer: {e}"))),
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| ProbeFailure::wrong_answer(format!("not an HTTP answer: {:?}", line.trim())))
}

use super::ProbeFailure;
use crate::backend::ContainerBackend;

/// Passes when a line of the service's log contains `text`.
pub(super) async fn check(
    backend: &dyn ContainerBackend,
    container: &str,
    text: &str,
) -> Result<(), ProbeFailure> {
    let logs = backend
        .container_logs(container, None)
        .await
        .map_err(|e| ProbeFailure::engine(&e))?;
    if logs.lines().any(|line| line.contains(text)) {
        Ok(())
    } else {
        Err(ProbeFailure::no_answer("no such line yet"))
    }
}

use super::ProbeFailure;
use crate::backend::ContainerBackend;

/// Passes when `args`, run inside the service's container, exits 0.
pub(super) async fn check(
    backend: &dyn ContainerBackend,
    container: &str,
    args: &[String],
) -> Result<(), ProbeFailure> {
    match backend.exec_in(container, args).await {
        Ok(0) => Ok(()),
        Ok(code) => Err(ProbeFailure::wrong_answer(format!(
            "exited with code {code}"
        ))),
        Err(e) => Err(ProbeFailure::engine(&e)),
    }
}

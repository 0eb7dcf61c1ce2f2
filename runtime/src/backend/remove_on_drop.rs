//! A guard that removes a container when the work that made it is abandoned.
//!
//! Work is abandoned when its future is dropped half-way: a call passed its
//! deadline, or the client of `berth serve` went away. Dropping cannot wait,
//! so the removal is spawned on the current runtime.

use std::future::Future;
use std::pin::Pin;

type Removal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs a container's removal when dropped, unless disarmed first.
#[must_use = "dropping the guard at once removes the container"]
pub struct RemoveOnDrop {
    removal: Option<Removal>,
}

impl RemoveOnDrop {
    /// A guard that runs `removal` if it is dropped before [`disarm`](Self::disarm).
    pub fn new(removal: impl Future<Output = ()> + Send + 'static) -> RemoveOnDrop {
        RemoveOnDrop {
            removal: Some(Box::pin(removal)),
        }
    }

    /// The work finished and the container is accounted for elsewhere.
    pub fn disarm(mut self) {
        self.removal = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let (Some(removal), Ok(runtime)) =
            (self.removal.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(removal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn guard(removed: &Arc<AtomicBool>) -> RemoveOnDrop {
        let removed = removed.clone();
        RemoveOnDrop::new(async move { removed.store(true, Ordering::SeqCst) })
    }

    #[tokio::test]
    async fn an_abandoned_guard_removes_and_a_disarmed_one_does_not() {
        let (abandoned, disarmed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        drop(guard(&abandoned));
        guard(&disarmed).disarm();
        tokio::task::yield_now().await;
        assert!(abandoned.load(Ordering::SeqCst));
        assert!(!disarmed.load(Ordering::SeqCst));
    }
}

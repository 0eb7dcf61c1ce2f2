//! Per-call caps on the containers and services a call starts (`[limits]
//! containers` and `services`). A call runs inside [`CallBudget::scope`];
//! every container start asks [`admit`] first. Outside any scope (library
//! use) nothing is counted. The budget rides with the call's task, so calls
//! that share one service manager (a tenant's, in `berth serve`) are still
//! counted apart.

use std::future::Future;
use std::sync::Arc;

use crate::capped_count::CappedCount;
use crate::policy::Limits;

tokio::task_local! {
    static BUDGET: Arc<CallBudget>;
}

/// The kinds of container a call starts, as its budget counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// An exec step.
    Step,
    /// A container that only reads a file out of a filesystem.
    Copy,
    /// A service.
    Service,
}

/// How many containers and services one call may still start.
pub struct CallBudget {
    containers: CappedCount,
    services: CappedCount,
}

/// A call's cap on containers or services was reached.
#[derive(Debug, thiserror::Error)]
#[error("this call may start at most {cap} {what} ([limits] {what} in berth.toml)")]
pub struct BudgetExceeded {
    cap: u32,
    what: &'static str,
}

impl CallBudget {
    /// A budget with the caps in `limits`.
    pub fn new(limits: &Limits) -> Arc<CallBudget> {
        Arc::new(CallBudget {
            containers: CappedCount::new(limits.containers),
            services: CappedCount::new(limits.services),
        })
    }

    /// Runs `call` with this budget.
    pub async fn scope<F: Future>(self: Arc<Self>, call: F) -> F::Output {
        BUDGET.scope(self, call).await
    }

    fn admit(&self, kind: ContainerKind) -> Result<(), BudgetExceeded> {
        let (counter, what) = match kind {
            ContainerKind::Step | ContainerKind::Copy => (&self.containers, "containers"),
            ContainerKind::Service => (&self.services, "services"),
        };
        if counter.take() {
            Ok(())
        } else {
            Err(BudgetExceeded {
                cap: counter.cap(),
                what,
            })
        }
    }
}

/// Counts a container the current call is about to start, or refuses it
/// when the call's cap for its kind is reached.
pub fn admit(kind: ContainerKind) -> Result<(), BudgetExceeded> {
    BUDGET
        .try_with(|budget| budget.admit(kind))
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_call_has_its_own_count_and_none_is_kept_outside_a_call() {
        let limits = Limits {
            containers: 2,
            services: 1,
            ..Limits::default()
        };
        let call = || async {
            let started: Vec<bool> = (0..3).map(|_| admit(ContainerKind::Step).is_ok()).collect();
            (
                started,
                admit(ContainerKind::Service).is_ok(),
                admit(ContainerKind::Service).is_ok(),
            )
        };
        let first = CallBudget::new(&limits).scope(call()).await;
        let second = CallBudget::new(&limits).scope(call()).await;
        assert_eq!(first, (vec![true, true, false], true, false));
        assert_eq!(second, first);
        assert!((0..10).all(|_| admit(ContainerKind::Step).is_ok()));
    }
}

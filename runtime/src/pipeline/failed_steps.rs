//! Steps that exited non-zero during one call. They are not written to the
//! exec cache (a later call may succeed), but within one call `stdout`,
//! `stderr` and `exit-code` of one failed step see one run. The record rides
//! with the call's task and ends with it, so a long-lived session (a tenant
//! of `berth serve`) neither replays an old failure to a later call nor
//! grows with every step that ever failed. Outside a call (library use)
//! nothing is remembered, and each evaluation runs the step again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use crate::backend::StepOutput;
use crate::lock;
use crate::spec::Digest;

tokio::task_local! {
    static FAILED: Mutex<HashMap<Digest, StepOutput>>;
}

/// Runs `call` with a record of its own failed steps.
pub async fn scope<F: Future>(call: F) -> F::Output {
    FAILED.scope(Mutex::new(HashMap::new()), call).await
}

/// The output of the step `key`, if it failed earlier in this call.
pub(super) fn get(key: &Digest) -> Option<StepOutput> {
    FAILED
        .try_with(|failed| lock(failed).get(key).cloned())
        .ok()
        .flatten()
}

/// Records that the step `key` failed with `output` in this call.
pub(super) fn remember(key: Digest, output: &StepOutput) {
    let _ = FAILED.try_with(|failed| lock(failed).insert(key, output.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> StepOutput {
        StepOutput {
            exit_code: code,
            stdout: String::new(),
            stderr: String::new(),
            snapshot: None,
        }
    }

    #[tokio::test]
    async fn each_call_remembers_its_own_failures_and_nothing_is_kept_outside_one() {
        let key = Digest::from_hex(&"ab".repeat(32)).unwrap();
        let first = scope(async {
            remember(key, &failure(3));
            get(&key).map(|output| output.exit_code)
        })
        .await;
        let second = scope(async { get(&key).map(|output| output.exit_code) }).await;
        remember(key, &failure(4));
        assert_eq!((first, second, get(&key)), (Some(3), None, None));
    }
}

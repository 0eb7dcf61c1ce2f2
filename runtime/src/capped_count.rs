//! A count that never passes its cap, shared by threads: the per-call
//! container budget and a tenant's cap on running containers both count this way.

use std::sync::atomic::{AtomicU32, Ordering};

/// How many places of a fixed number are taken.
pub(crate) struct CappedCount {
    cap: u32,
    taken: AtomicU32,
}

impl CappedCount {
    /// A count of nothing taken, with `cap` places.
    pub(crate) fn new(cap: u32) -> CappedCount {
        CappedCount {
            cap,
            taken: AtomicU32::new(0),
        }
    }

    /// The number of places.
    pub(crate) fn cap(&self) -> u32 {
        self.cap
    }

    /// Takes one place; false, taking nothing, when every place is taken.
    pub(crate) fn take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |taken| {
                (taken < self.cap).then_some(taken + 1)
            })
            .is_ok()
    }

    /// Gives back a place that [`take`](Self::take) took.
    pub(crate) fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_given_back_can_be_taken_again() {
        let count = CappedCount::new(2);
        assert_eq!(
            [count.take(), count.take(), count.take()],
            [true, true, false]
        );
        count.give_back();
        assert_eq!([count.take(), count.take()], [true, false]);
    }
}

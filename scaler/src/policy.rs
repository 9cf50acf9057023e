//! The scaling policy as a pure function: from what the queue and the fleet look like now, and
//! how long the queue has been short, to how many workers there should be.
//!
//! Scale out at once to ⌈q/2⌉ when that exceeds the workers there are (pending and running);
//! scale in to ⌈q/10⌉ only once it has stayed below them for a sustained number of ticks. Never
//! above the maximum, never below the minimum, never below the workers busy with a batch.
//!
//! One refinement of the card: a queue that is shrinking does not trigger a scale-out. Read
//! literally, the card scales in to ⌈q/10⌉ and on the next tick finds ⌈q/2⌉ above that and
//! scales straight out again, so a slowly drained burst would make the fleet oscillate; a
//! draining queue already has the workers it needs.

/// The policy's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Fewest workers, even with an empty queue.
    pub min_workers: usize,
    /// Most workers, however long the queue.
    pub max_workers: usize,
    /// Consecutive ticks ⌈q/10⌉ must stay below the worker count before scaling in.
    pub scale_in_ticks: u32,
}

/// One look at the queue and the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observation {
    /// Messages visible, in flight and delayed.
    pub depth: usize,
    /// Workers pending and running.
    pub workers: usize,
    /// Workers in the middle of a batch.
    pub busy: usize,
}

/// What the policy remembers between ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Consecutive ticks the scale-in target has been below the worker count.
    pub low_ticks: u32,
    /// The depth seen at the last tick.
    pub last_depth: usize,
}

impl Policy {
    /// The design card's policy with its defaults: 0 to 19 workers, scale in after 3 low ticks.
    pub const fn card() -> Policy {
        Policy {
            min_workers: 0,
            max_workers: 19,
            scale_in_ticks: 3,
        }
    }

    /// The worker count to aim for, and what to remember for the next tick.
    pub fn decide(&self, memory: Memory, now: Observation) -> (usize, Memory) {
        let out = now.depth.div_ceil(2);
        let inward = now.depth.div_ceil(10);
        let draining = now.depth < memory.last_depth;
        let (target, low_ticks) = if out > now.workers && !draining {
            (out, 0)
        } else if inward < now.workers {
            let low_ticks = memory.low_ticks + 1;
            let target = if low_ticks >= self.scale_in_ticks {
                inward
            } else {
                now.workers
            };
            (target, low_ticks)
        } else {
            (now.workers, 0)
        };
        let memory = Memory {
            low_ticks,
            last_depth: now.depth,
        };
        (self.bound(target, now.busy), memory)
    }

    /// Applies the maximum, then the floors: the minimum and the busy workers.
    fn bound(&self, target: usize, busy: usize) -> usize {
        target
            .min(self.max_workers)
            .max(self.min_workers)
            .max(busy.min(self.max_workers))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CARD: Policy = Policy::card();

    fn decide(depth: usize, workers: usize, busy: usize, low_ticks: u32) -> (usize, Memory) {
        CARD.decide(
            Memory {
                low_ticks,
                last_depth: 0,
            },
            Observation {
                depth,
                workers,
                busy,
            },
        )
    }

    #[test]
    fn scales_out_at_once_to_half_the_depth() {
        assert_eq!(decide(7, 1, 1, 0).0, 4);
        assert_eq!(decide(100, 0, 0, 0).0, 19);
    }

    #[test]
    fn scales_in_only_after_the_sustained_period() {
        let (first, memory) = decide(10, 6, 0, 0);
        assert_eq!((first, memory.low_ticks), (6, 1));
        let (second, memory) = decide(10, 6, 0, memory.low_ticks);
        assert_eq!((second, memory.low_ticks), (6, 2));
        assert_eq!(decide(10, 6, 0, memory.low_ticks).0, 1);
    }

    #[test]
    fn a_draining_queue_does_not_scale_out() {
        let memory = Memory {
            low_ticks: 0,
            last_depth: 120,
        };
        let now = Observation {
            depth: 100,
            workers: 10,
            busy: 10,
        };
        assert_eq!(CARD.decide(memory, now).0, 10);
        let growing = Memory {
            last_depth: 90,
            ..memory
        };
        assert_eq!(CARD.decide(growing, now).0, 19);
    }

    #[test]
    fn scaling_out_resets_the_scale_in_count() {
        let (_, memory) = decide(10, 5, 0, 2);
        assert_eq!(memory.low_ticks, 3);
        assert_eq!(decide(50, 5, 5, 2).1.low_ticks, 0);
        assert_eq!(decide(45, 5, 5, 2).1.low_ticks, 0);
    }

    #[test]
    fn never_retires_busy_workers() {
        assert_eq!(decide(0, 6, 4, 10).0, 4);
    }

    #[test]
    fn respects_the_minimum() {
        let policy = Policy {
            min_workers: 2,
            ..CARD
        };
        let memory = Memory {
            low_ticks: 9,
            last_depth: 0,
        };
        assert_eq!(policy.decide(memory, Observation::default()).0, 2);
    }

    proptest! {
        #[test]
        fn stays_within_bounds(
            depth in 0usize..10_000, workers in 0usize..30, busy in 0usize..30,
            low_ticks in 0u32..10, min in 0usize..5, max in 5usize..30,
        ) {
            let policy = Policy { min_workers: min, max_workers: max, scale_in_ticks: 3 };
            let busy = busy.min(workers);
            let memory = Memory { low_ticks, last_depth: 0 };
            let (desired, _) = policy.decide(memory, Observation { depth, workers, busy });
            prop_assert!(desired <= max);
            prop_assert!(desired >= min);
            prop_assert!(desired >= busy.min(max));
        }

        #[test]
        fn scale_out_is_immediate(depth in 0usize..1000, workers in 0usize..19) {
            let (desired, _) = decide(depth, workers, 0, 0);
            if depth.div_ceil(2) > workers {
                prop_assert_eq!(desired, depth.div_ceil(2).min(19));
            }
        }

        #[test]
        fn no_scale_in_before_the_sustained_period(depth in 0usize..1000, workers in 0usize..19, low_ticks in 0u32..2) {
            let (desired, _) = decide(depth, workers, 0, low_ticks);
            prop_assert!(desired >= workers);
        }

        #[test]
        fn a_single_burst_gives_one_rise_and_one_fall(
            burst in 1usize..2000, rate in 1usize..20, quiet in 10usize..40,
        ) {
            // A burst arrives at once; each worker serves `rate` messages a tick.
            let (mut depth, mut workers, mut memory) = (burst, 0usize, Memory::default());
            let mut counts = vec![0];
            for _ in 0..(burst / rate + quiet + 100) {
                let (desired, next) = CARD.decide(memory, Observation { depth, workers, busy: 0 });
                (workers, memory) = (desired, next);
                depth = depth.saturating_sub(workers * rate);
                counts.push(workers);
            }
            let changes: Vec<i8> = counts
                .windows(2)
                .filter(|w| w[0] != w[1])
                .map(|w| if w[1] > w[0] { 1 } else { -1 })
                .collect();
            let mut directions = changes.clone();
            directions.dedup();
            prop_assert_eq!(directions, vec![1, -1], "changes {:?}", changes);
            prop_assert_eq!(*counts.last().unwrap(), 0);
        }
    }
}

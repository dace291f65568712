//! A bounded, blocking, drop-oldest queue between the monitor (which must never wait) and one
//! delivery thread.
//!
//! `push` never blocks: when the queue is full the oldest item is dropped (and returned, so the
//! caller counts it). The delivery thread blocks in `pop`. Shutdown is two steps: `close` stops
//! new items and lets the thread drain what is queued; past the `abandon_at` deadline the thread
//! is told (through `abandoned` and `sleep_until`) to give up what is left, including a retry it
//! is waiting for. Mutex + Condvar: the lock is held for a push or a pop only, never across
//! delivery.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    abandon_at: Option<Instant>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    capacity: usize,
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items (at least one).
    pub(crate) fn new(capacity: usize) -> Queue<T> {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                abandon_at: None,
            }),
            changed: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an item without waiting. Returns what had to make room: the oldest item when the
    /// queue was full, or `item` itself when the queue is closed.
    pub(crate) fn push(&self, item: T) -> Option<T> {
        let mut state = self.lock();
        if state.closed {
            return Some(item);
        }
        let dropped = if state.items.len() >= self.capacity {
            state.items.pop_front()
        } else {
            None
        };
        state.items.push_back(item);
        drop(state);
        self.changed.notify_one();
        dropped
    }

    /// The next item, waiting for one. `None` once the queue is closed and empty, or abandoned.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if is_past(state.abandon_at) {
                return None;
            }
            if let Some(item) = state.items.pop_front() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The next item, waiting for one until `deadline` (forever without one). For a thread
    /// that also has timed work of its own (the calendar's coalesced writes).
    pub(crate) fn pop_until(&self, deadline: Option<Instant>) -> Popped<T> {
        let mut state = self.lock();
        loop {
            if is_past(state.abandon_at) {
                return Popped::Closed;
            }
            if let Some(item) = state.items.pop_front() {
                return Popped::Item(item);
            }
            if state.closed {
                return Popped::Closed;
            }
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if d <= now => return Popped::TimedOut,
                Some(d) => d - now,
                None => {
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
            };
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Takes every item still queued (e.g. to count what shutdown abandoned).
    pub(crate) fn drain(&self) -> Vec<T> {
        self.lock().items.drain(..).collect()
    }

    /// No more items: the thread drains what is queued until `abandon_at`, then gives up.
    pub(crate) fn close(&self, abandon_at: Instant) {
        let mut state = self.lock();
        state.closed = true;
        state.abandon_at = Some(state.abandon_at.map_or(abandon_at, |a| a.min(abandon_at)));
        drop(state);
        self.changed.notify_all();
    }

    /// True once the shutdown deadline has passed: stop working, now.
    pub(crate) fn abandoned(&self) -> bool {
        is_past(self.lock().abandon_at)
    }

    /// Waits until `deadline` (a retry's time). Returns false when shutdown's deadline comes
    /// first.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> bool {
        let mut state = self.lock();
        loop {
            if is_past(state.abandon_at) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let until = state.abandon_at.map_or(deadline, |a| a.min(deadline));
            let wait = until.saturating_duration_since(now);
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What [`Queue::pop_until`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Popped<T> {
    /// The next item.
    Item(T),
    /// The deadline came first.
    TimedOut,
    /// Closed and empty, or abandoned.
    Closed,
}

fn is_past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let q = Queue::new(2);
        assert_eq!(q.push(1), None);
        assert_eq!(q.push(2), None);
        assert_eq!(q.push(3), Some(1));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
    }

    #[test]
    fn close_drains_then_ends_and_refuses_new_items() {
        let q = Queue::new(4);
        q.push(1);
        q.close(Instant::now() + Duration::from_mins(1));
        assert_eq!(q.push(2), Some(2));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_waiting_pop_wakes_on_push_and_on_close() {
        let q = Arc::new(Queue::new(4));
        let t = {
            let q = q.clone();
            std::thread::spawn(move || (q.pop(), q.pop()))
        };
        std::thread::sleep(Duration::from_millis(20));
        q.push(7);
        q.close(Instant::now() + Duration::from_mins(1));
        assert_eq!(t.join().unwrap(), (Some(7), None));
    }

    #[test]
    fn pop_until_returns_an_item_a_timeout_or_the_end() {
        let q = Queue::new(4);
        q.push(1);
        assert_eq!(q.pop_until(Some(Instant::now())), Popped::Item(1));
        assert_eq!(
            q.pop_until(Some(Instant::now() + Duration::from_millis(10))),
            Popped::TimedOut
        );
        q.close(Instant::now() + Duration::from_mins(1));
        assert_eq!(q.pop_until(None), Popped::Closed);
    }

    #[test]
    fn the_deadline_cuts_a_retry_wait_short() {
        let q: Queue<u8> = Queue::new(1);
        let start = Instant::now();
        assert!(q.sleep_until(start + Duration::from_millis(10)));
        q.close(start + Duration::from_millis(30));
        assert!(!q.sleep_until(start + Duration::from_mins(1)));
        assert!(start.elapsed() < Duration::from_secs(30));
        assert!(q.abandoned());
        q.push(1);
        assert_eq!(q.pop(), None, "abandoned: nothing more is handed out");
    }
}

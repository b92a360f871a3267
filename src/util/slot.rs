//! A slot of one value between two threads: `put` replaces what was not yet taken, so the
//! consumer always gets the latest (camera frames to the vision worker, scenes to the display).
//! Nothing queues up, whatever the speed of either side.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The slot; share it in an `Arc`.
pub struct Slot<T> {
    inner: Mutex<SlotState<T>>,
    ready: Condvar,
}

struct SlotState<T> {
    value: Option<T>,
    closed: bool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { inner: Mutex::new(SlotState { value: None, closed: false }), ready: Condvar::new() }
    }
}

impl<T> Slot<T> {
    /// Puts a value in the slot, replacing (dropping) any value not yet taken.
    pub fn put(&self, value: T) {
        if let Ok(mut s) = self.inner.lock() {
            s.value = Some(value);
            self.ready.notify_all();
        }
    }

    /// Takes the latest value, waiting up to `timeout`. `None` on timeout or when closed.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let guard = self.inner.lock().ok()?;
        let (mut guard, _) = self.ready.wait_timeout_while(guard, timeout, |s| s.value.is_none() && !s.closed).ok()?;
        let value = guard.value.take();
        // A producer may be waiting for the slot to empty (`wait_taken`).
        self.ready.notify_all();
        value
    }

    /// Waits until the value put last has been taken (or the slot is closed), up to `timeout`;
    /// whether it was taken.
    pub fn wait_taken(&self, timeout: Duration) -> bool {
        let Ok(guard) = self.inner.lock() else { return false };
        match self.ready.wait_timeout_while(guard, timeout, |s| s.value.is_some() && !s.closed) {
            Ok((s, _)) => s.value.is_none(),
            Err(_) => false,
        }
    }

    /// Wakes every waiter for shutdown.
    pub fn close(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.closed = true;
            self.ready.notify_all();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().map(|s| s.closed).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_latest_value() {
        let slot = Slot::default();
        slot.put(1);
        slot.put(2);
        assert_eq!(slot.take(Duration::from_millis(1)), Some(2));
        assert!(slot.take(Duration::from_millis(1)).is_none());
        assert!(slot.wait_taken(Duration::from_millis(1)), "nothing waiting");
        slot.put(3);
        assert!(!slot.wait_taken(Duration::from_millis(1)), "3 is still there");
        assert_eq!(slot.take(Duration::from_millis(1)), Some(3));
        slot.close();
        assert!(slot.take(Duration::from_secs(5)).is_none(), "a closed slot returns at once");
    }
}

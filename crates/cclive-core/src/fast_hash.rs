//! The hash tables of a session's ledger, of the monitor's response index and of the store's
//! first import: keyed by ids (message, request and tool ids) read from the user's own
//! transcripts, looked up and inserted for every line, rebuilt whole when a long session is read
//! back from the store, and counted once more for every response a first import writes.
//!
//! std's default hasher (SipHash) resists collisions an attacker crafts, at several times the
//! cost of `foldhash` on short keys; these keys are not chosen by anyone hostile to the user who
//! runs cclive, and `foldhash`'s seeds still vary per process. It owns only the choice of
//! hasher: never what a table holds.

use std::collections::{HashMap, HashSet};

/// The hasher ([`foldhash::fast::RandomState`]).
pub type FastState = foldhash::fast::RandomState;

/// A map with [`FastState`].
pub type FastMap<K, V> = HashMap<K, V, FastState>;

/// A set with [`FastState`].
pub type FastSet<T> = HashSet<T, FastState>;

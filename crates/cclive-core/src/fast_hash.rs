//! The hash tables of a session's ledger and of the monitor's response index: keyed by ids
//! (message, request and tool ids) read from the user's own transcripts, looked up and inserted
//! for every line, and rebuilt whole when a long session is read back from the store.
//!
//! std's default hasher (SipHash) resists collisions an attacker crafts, at several times the
//! cost of `foldhash` on short keys; these keys are not chosen by anyone hostile to the user who
//! runs cclive, and `foldhash`'s seeds still vary per process. It owns only the choice of
//! hasher: never what a table holds.

use std::collections::{HashMap, HashSet};

/// The hasher ([`foldhash::fast::RandomState`]).
pub(crate) type FastState = foldhash::fast::RandomState;

/// A map with [`FastState`].
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;

/// A set with [`FastState`].
pub(crate) type FastSet<T> = HashSet<T, FastState>;

//! The monitor: events from the sources folded into session state, then handed to the sinks.
//!
//! `runtime` (the one monitor runtime every command configures), `pipeline` (the monitor task),
//! `writer` (the one SQLite writer thread), `state_file` (the seed's `current_session.json`),
//! `serve` (the monitor with its HTTP server: `watch`, `dashboard`), `lock` (one monitor per
//! data dir), `session_monitor` (the library face), `client` (a tiny loopback HTTP client for
//! talking to a running monitor).

pub(crate) mod client;
pub(crate) mod lock;
pub mod pipeline;
pub(crate) mod runtime;
pub(crate) mod serve;
pub mod session_monitor;
pub mod state_file;
pub(crate) mod writer;

//! The team store against a real PostgreSQL (a throw-away cluster, one database per test).

#![allow(clippy::unwrap_used, clippy::float_cmp, missing_docs)]

mod merge_rule;
mod migrations;
mod permissions;
mod push;
mod restart;
mod support;
mod tls;

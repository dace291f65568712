#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod cclive;
pub mod claude;
pub mod fake_api;
pub mod radicale;
pub mod team;

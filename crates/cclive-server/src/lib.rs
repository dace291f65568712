//! cclive's HTTP server (placeholder).

//! cclive's persistence (placeholder until the store lands).

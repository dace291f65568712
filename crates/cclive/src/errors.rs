//! Errors the binary classifies by consequence: which exit code, and what to tell the user.
//!
//! Most failures are `anyhow` errors with context; the few that decide a specific exit code are
//! typed here so `main` can find them in the chain.

/// `claude` could not be found or started.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not find `claude` ({looked_for}). Install Claude Code with \
     `npm install -g @anthropic-ai/claude-code`, or set CLAUDE_BIN to its path"
)]
pub struct ClaudeNotFound {
    /// What was searched for (a path, or "claude on PATH").
    pub looked_for: String,
}

/// The exit code for an error: 127 when claude is missing, 2 for bad configuration, else 1.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    if err
        .chain()
        .any(<dyn std::error::Error + 'static>::is::<ClaudeNotFound>)
    {
        127
    } else if err
        .chain()
        .any(<dyn std::error::Error + 'static>::is::<crate::config::ConfigError>)
    {
        2
    } else {
        1
    }
}

/// True when the error is only that our reader went away (`cclive sessions | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

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

/// What to do next, for errors that have a way forward beyond their message: a damaged history
/// database (`cclive db check`, `cclive db recover`).
pub fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<cclive_store::StoreError>())
        .any(cclive_store::StoreError::is_damage)
        .then_some(
            "the history database is damaged: `cclive db check` says what is wrong; stop the \
             monitor and run `cclive db recover` to keep the damaged file aside and rebuild the \
             history from what still reads and the transcripts on disk",
        )
}

/// True when the error is only that our reader went away (`cclive sessions | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

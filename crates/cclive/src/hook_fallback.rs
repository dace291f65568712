//! Recording a hook payload in the store when no monitor takes it: filled in by the monitor work.
//!
//! `cclive hook` calls [`record`] after its POST to the monitor failed or timed out. This
//! placeholder records nothing; it will be replaced.

use crate::config::Settings;

/// Records one raw hook payload (the JSON Claude Code wrote on the hook's stdin) in the store.
#[allow(clippy::unnecessary_wraps)] // The placeholder cannot fail; the real one will.
pub(crate) fn record(_settings: &Settings, _payload: &[u8]) -> anyhow::Result<()> {
    Ok(())
}

//! The agent's HTTP client of the team API (`/api/team/v1/…`): the cursor and a push.
//!
//! Blocking (ureq), called only from the upload worker's own thread. Every answer is classified
//! by what the worker does next ([`TeamError`]). Messages never carry the token, the URL's path
//! or query, or the server's body beyond its `error` text.

use std::fmt;
use std::time::Duration;

use cclive_core::team::{API_PREFIX, CursorReply, ErrorReply, PushReply};

/// The whole exchange of one request (connect, send, answer) must fit in this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const REPLY_LIMIT: u64 = 4 * 1024 * 1024;

/// A team token (`cct_<id>_<secret>`), never shown.
#[derive(Clone)]
pub(crate) struct TeamToken(String);

impl TeamToken {
    /// The token as read from its file (surrounding whitespace dropped); `None` when empty.
    pub(crate) fn new(raw: &str) -> Option<TeamToken> {
        let token = raw.trim();
        (!token.is_empty()).then(|| TeamToken(token.to_owned()))
    }
}

impl fmt::Debug for TeamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TeamToken(<redacted>)")
    }
}

/// Why a request did not succeed, by what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TeamError {
    /// The body is too large for the server (413): send fewer items.
    #[error("the server refused a push as too large")]
    TooLarge,
    /// The server refused for a reason a person must fix (bad token, a machine id bound to
    /// another user, a protocol it does not speak). Retried slowly.
    #[error("the server refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's `error` text.
        message: String,
    },
    /// The server could not be reached or had trouble (no connection, timeout, 5xx, 429):
    /// retried with backoff.
    #[error("the server is unreachable: {0}")]
    Unavailable(String),
    /// The connection broke in the middle of the exchange (a broken pipe, a reset, an end of
    /// stream): a server that answers 413 to a large body hangs up without reading the rest,
    /// so the agent may see this instead of the 413. Retried with backoff, and a large push is
    /// halved first.
    #[error("the connection to the server broke: {0}")]
    Broken(String),
}

/// A client of one team server.
pub(crate) struct TeamClient {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

impl TeamClient {
    /// A client of the server at `upstream` (`http(s)://host[:port][/prefix]`).
    pub(crate) fn new(upstream: &str, token: &TeamToken) -> TeamClient {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("cclive/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        TeamClient {
            agent,
            base: format!("{}{API_PREFIX}", upstream.trim_end_matches('/')),
            authorization: format!("Bearer {}", token.0),
        }
    }

    /// How far the server has acknowledged this machine's outbox.
    pub(crate) fn cursor(&self, machine_id: &str) -> Result<u64, TeamError> {
        let result = self
            .agent
            .get(format!("{}/cursor", self.base))
            .query("machine", machine_id)
            .header("Authorization", &self.authorization)
            .call();
        let reply: CursorReply = answer(result)?;
        Ok(reply.acked_seq)
    }

    /// Sends one push body (a serialized `PushRequest`).
    pub(crate) fn push(&self, body: &[u8]) -> Result<PushReply, TeamError> {
        let result = self
            .agent
            .post(format!("{}/push", self.base))
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body);
        answer(result)
    }
}

/// Reads a JSON answer, or classifies the failure.
fn answer<T: serde::de::DeserializeOwned>(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, TeamError> {
    let mut response = result.map_err(|e| failure(&e))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(REPLY_LIMIT)
        .read_to_vec()
        .map_err(|e| failure(&e))?;
    match status {
        200..=299 => serde_json::from_slice(&body).map_err(|e| {
            TeamError::Unavailable(format!("the server's answer cannot be read: {e}"))
        }),
        413 => Err(TeamError::TooLarge),
        408 | 429 | 500..=599 => Err(TeamError::Unavailable(format!("HTTP {status}"))),
        _ => Err(TeamError::Refused {
            status,
            message: serde_json::from_slice::<ErrorReply>(&body)
                .map_or_else(|_| "no reason given".into(), |r| r.error),
        }),
    }
}

/// A failed exchange: [`TeamError::Broken`] when an open connection broke, else unavailable.
fn failure(e: &ureq::Error) -> TeamError {
    use std::io::ErrorKind;
    let described = crate::sinks::notify::webhook::describe_error(e);
    match e {
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::BrokenPipe
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::UnexpectedEof
            ) =>
        {
            TeamError::Broken(described)
        }
        ureq::Error::Protocol(_) => TeamError::Broken(described),
        _ => TeamError::Unavailable(described),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_trimmed_never_shown_and_never_empty() {
        let token = TeamToken::new("  cct_ab_cd\n").unwrap();
        assert_eq!(token.0, "cct_ab_cd");
        assert_eq!(format!("{token:?}"), "TeamToken(<redacted>)");
        assert!(TeamToken::new(" \n").is_none());
    }

    #[test]
    fn the_base_takes_any_trailing_slash_and_a_prefix() {
        let token = TeamToken::new("cct_a_b").unwrap();
        assert_eq!(
            TeamClient::new("https://team.example.com/", &token).base,
            "https://team.example.com/api/team/v1"
        );
        assert_eq!(
            TeamClient::new("http://127.0.0.1:8601/cclive", &token).base,
            "http://127.0.0.1:8601/cclive/api/team/v1"
        );
    }

    #[test]
    fn nothing_listening_is_unavailable_without_the_url() {
        let token = TeamToken::new("cct_a_b").unwrap();
        // A port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = TeamClient::new(&format!("http://127.0.0.1:{port}/secret-path"), &token);
        let err = client.cursor("m").unwrap_err();
        assert!(matches!(err, TeamError::Unavailable(_)), "{err:?}");
        assert!(!err.to_string().contains("secret-path"), "{err}");
    }
}

//! A small CalDAV (RFC 4791) client: write one event, delete it, check that a URL is a calendar.
//!
//! An event lives at `<collection>/<name>.ics`, the name made from its UID, so rewriting a block
//! is a `PUT` to the same resource. The first `PUT` says `If-None-Match: *`; later ones say
//! `If-Match: <the ETag the server gave>`, so a change made meanwhile on the server is noticed
//! ([`CalDavError::Changed`]) rather than silently lost — the caller then decides (the sink
//! writes its figures again, unconditionally: the event is cclive's). Every failure becomes a
//! [`CalDavError`] whose message tells the user what to check; none contains the URL's path or
//! a credential. Blocking (ureq), bounded by the calendar's timeout: run it on the sink's
//! thread, never on the monitor's.

use std::io::Read as _;

use super::settings::CalendarSettings;
use crate::sinks::notify::settings::redact_url;
use crate::sinks::notify::webhook::describe_error;

/// Why a request did not do what was asked. The `Display` text is for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalDavError {
    /// 401.
    #[error(
        "HTTP 401: the server refused the credentials; check username and password_file / \
         password_env (or the token)"
    )]
    Unauthorized,
    /// 403.
    #[error("HTTP 403: this account may not write to this calendar; check the url and its sharing")]
    Forbidden,
    /// 404 (or 409 on `PUT`: the collection the event would go in does not exist).
    #[error(
        "HTTP {0}: no calendar at this URL; url must be the calendar collection itself, e.g. \
         https://host/dav/calendars/<user>/<calendar>/"
    )]
    NotFound(u16),
    /// The URL answers, but it is not a calendar collection.
    #[error(
        "this URL is not a calendar (its resource type has no calendar); use the URL of a \
         calendar collection"
    )]
    NotACalendar,
    /// 412: the event changed on the server since it was last written (or exists already).
    #[error("HTTP 412: the event changed on the server since cclive last wrote it")]
    Changed,
    /// Any other answer.
    #[error("HTTP {0}{hint}", hint = http_hint(*.0))]
    Http(u16),
    /// No answer: the server is down, unreachable, or too slow.
    #[error("{error}: is the calendar server at {server} running and reachable?")]
    Transport {
        /// What failed (never the URL).
        error: String,
        /// The server, redacted.
        server: String,
        /// It ran out of time.
        timed_out: bool,
    },
}

fn http_hint(status: u16) -> &'static str {
    match status {
        500..=599 => ": the calendar server failed; cclive will try again",
        405 => ": the server does not allow this here; is the url a calendar collection?",
        _ => "",
    }
}

impl CalDavError {
    /// Worth trying again later: no answer, 408, 429 or a server error.
    pub fn retryable(&self) -> bool {
        match self {
            CalDavError::Transport { .. } => true,
            CalDavError::Http(status) => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CalDavError::Unauthorized => Some(401),
            CalDavError::Forbidden => Some(403),
            CalDavError::NotFound(s) | CalDavError::Http(s) => Some(*s),
            CalDavError::Changed => Some(412),
            CalDavError::NotACalendar | CalDavError::Transport { .. } => None,
        }
    }
}

/// What a `PUT` may overwrite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Only create (`If-None-Match: *`).
    Create,
    /// Only replace the version with this ETag (`If-Match`).
    Replace(String),
    /// Write whatever is there.
    Any,
}

/// A successful write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The status (201 created, 204 replaced, …).
    pub status: u16,
    /// The new ETag, when the server gave one.
    pub etag: Option<String>,
}

/// One calendar collection's client.
pub struct Client {
    agent: ureq::Agent,
    collection: String,
    authorization: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("collection", &redact_url(&self.collection))
            .finish_non_exhaustive()
    }
}

/// Properties asked for to tell a calendar from another collection.
const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:resourcetype/><d:displayname/></d:prop></d:propfind>"#;

impl Client {
    /// The client of `settings`' collection.
    pub fn new(settings: &CalendarSettings) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .allow_non_standard_methods(true)
            .user_agent(format!("cclive/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            collection: settings.url.clone(),
            authorization: settings.auth.header(),
        }
    }

    /// The URL of the event with this UID.
    pub fn event_url(&self, uid: &str) -> String {
        format!("{}{}", self.collection, resource_name(uid))
    }

    fn transport(&self, e: &ureq::Error) -> CalDavError {
        CalDavError::Transport {
            error: describe_error(e),
            server: redact_url(&self.collection),
            timed_out: matches!(e, ureq::Error::Timeout(_)),
        }
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<(u16, Option<String>, String), CalDavError> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        if let Some(auth) = &self.authorization {
            builder = builder.header("Authorization", auth);
        }
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let request = builder
            .body(body.to_owned())
            .map_err(|_| CalDavError::Transport {
                error: "the URL is not valid".into(),
                server: redact_url(&self.collection),
                timed_out: false,
            })?;
        let mut response = self.agent.run(request).map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut text = String::new();
        let _ = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .reader()
            .read_to_string(&mut text);
        Ok((status, etag, text))
    }

    /// Writes the calendar text `ics` (one `VEVENT` with this UID).
    pub fn put(&self, uid: &str, ics: &str, pre: &Precondition) -> Result<Written, CalDavError> {
        let mut headers = vec![("Content-Type", "text/calendar; charset=utf-8".to_owned())];
        match pre {
            Precondition::Create => headers.push(("If-None-Match", "*".into())),
            Precondition::Replace(etag) => headers.push(("If-Match", etag.clone())),
            Precondition::Any => {}
        }
        let (status, etag, _) = self.request("PUT", &self.event_url(uid), &headers, ics)?;
        match status {
            200..=299 => Ok(Written { status, etag }),
            409 => Err(CalDavError::NotFound(409)),
            other => Err(classify(other)),
        }
    }

    /// Deletes the event with this UID (only the version with `etag`, when given).
    pub fn delete(&self, uid: &str, etag: Option<&str>) -> Result<u16, CalDavError> {
        let headers: Vec<(&str, String)> = etag
            .map(|e| ("If-Match", e.to_owned()))
            .into_iter()
            .collect();
        let (status, _, _) = self.request("DELETE", &self.event_url(uid), &headers, "")?;
        match status {
            200..=299 => Ok(status),
            other => Err(classify(other)),
        }
    }

    /// Checks that the collection exists, the credentials are good, and it is a calendar
    /// (`PROPFIND` of its resource type).
    pub fn check_collection(&self) -> Result<(), CalDavError> {
        let headers = [
            ("Depth", "0".to_owned()),
            ("Content-Type", "application/xml; charset=utf-8".to_owned()),
        ];
        let (status, _, body) =
            self.request("PROPFIND", &self.collection, &headers, PROPFIND_BODY)?;
        match status {
            207 if is_calendar(&body) => Ok(()),
            // Another collection, or a plain web server (not WebDAV at all).
            200 | 207 | 405 => Err(CalDavError::NotACalendar),
            other => Err(classify(other)),
        }
    }
}

fn classify(status: u16) -> CalDavError {
    match status {
        401 => CalDavError::Unauthorized,
        403 => CalDavError::Forbidden,
        404 | 410 => CalDavError::NotFound(status),
        412 => CalDavError::Changed,
        other => CalDavError::Http(other),
    }
}

/// The event's resource name: its UID with anything but letters, digits, `-`, `_` and `.`
/// replaced by `-`, then `.ics`.
pub fn resource_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}.ics")
}

/// True when a `PROPFIND` answer's resource type names a calendar (any namespace prefix).
fn is_calendar(multistatus: &str) -> bool {
    let lower = multistatus.to_ascii_lowercase();
    let Some(start) = lower.find("resourcetype") else {
        return false;
    };
    let section = &lower[start..];
    let end = section[1..]
        .find("resourcetype")
        .map_or(section.len(), |e| e + 1);
    let section = &section[..end];
    section.match_indices("calendar").any(|(i, _)| {
        i > 0
            && matches!(section.as_bytes()[i - 1], b'<' | b':')
            && section[i + "calendar".len()..].starts_with(['/', ' ', '>'])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_safe() {
        assert_eq!(resource_name("ab-12@cclive"), "ab-12-cclive.ics");
        assert_eq!(resource_name("a/../b c"), "a-..-b-c.ics");
    }

    #[test]
    fn calendars_are_told_from_other_collections() {
        let radicale = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><propstat><prop><resourcetype><C:calendar /><collection /></resourcetype></prop></propstat></response></multistatus>"#;
        assert!(is_calendar(radicale));
        let plain = r#"<d:multistatus xmlns:d="DAV:"><d:response><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype><d:displayname>calendars</d:displayname></d:prop></d:propstat></d:response></d:multistatus>"#;
        assert!(!is_calendar(plain));
        let schedule = r"<resourcetype><collection/><C:schedule-inbox/></resourcetype><calendar-color>x</calendar-color>";
        assert!(!is_calendar(schedule));
    }

    #[test]
    fn what_is_retried() {
        assert!(CalDavError::Http(503).retryable());
        assert!(CalDavError::Http(429).retryable());
        assert!(!CalDavError::Unauthorized.retryable());
        assert!(!CalDavError::NotFound(404).retryable());
        let down = CalDavError::Transport {
            error: "connection failed".into(),
            server: "http://127.0.0.1:1".into(),
            timed_out: false,
        };
        assert!(down.retryable());
        assert_eq!(
            down.to_string(),
            "connection failed: is the calendar server at http://127.0.0.1:1 running and reachable?"
        );
        assert!(
            CalDavError::Unauthorized
                .to_string()
                .starts_with("HTTP 401: ")
        );
    }
}

//! Outgoing webhooks: one delivery thread per `[[webhook]]`, fed by a bounded queue.
//!
//! Each delivery is a JSON POST of the payload, with `X-Cclive-Event`, `X-Cclive-Delivery` (the
//! payload id, the same on every retry) and, when a secret is set, `X-Cclive-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`. A request that fails for a reason worth retrying (no
//! connection, a timeout, 408, 429, 5xx) is tried again after an exponential backoff with jitter
//! (0.5 s, 1 s, 2 s, … capped at 30 s; `Retry-After` is honoured up to 60 s), up to
//! `max_attempts` in all. Other answers (3xx: redirects are not followed; 4xx) fail at once.
//! Deliveries to one webhook go out one at a time, in order, so a slow receiver only ever has one
//! request open and never sees a storm; meanwhile the queue fills and drops its oldest entries.
//! The monitor only ever enqueues (see [`super::Notifier`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Delivery;
use super::queue::Queue;
use super::settings::{WebhookSettings, redact_url};
use super::stats::{DeliveryEntry, Outcome, SinkHandle, SinkKind, SinkReport, lock};

/// First retry delay; doubles per attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_mins(1);

/// The signature header's value for `body` signed with `secret`: `sha256=<hex>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The receiver answered with this status (and maybe a `Retry-After` in seconds).
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: connection, TLS or timeout trouble.
    Failed { error: String, timed_out: bool },
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Delivered.
    Done,
    /// Worth another try, not before this long (at least).
    Retry(Option<Duration>),
    /// Failed for good.
    GiveUp,
}

/// The retry rule: success on 2xx; retry on transport failures, 408, 429 and 5xx; give up on
/// anything else.
pub(crate) fn next_step(attempt: &Attempt) -> Next {
    match attempt {
        Attempt::Answered { status, .. } if (200..300).contains(status) => Next::Done,
        Attempt::Answered {
            status,
            retry_after,
        } if *status == 408 || *status == 429 || (500..600).contains(status) => {
            Next::Retry(retry_after.map(|d| d.min(RETRY_AFTER_CAP)))
        }
        Attempt::Answered { .. } => Next::GiveUp,
        Attempt::Failed { .. } => Next::Retry(None),
    }
}

/// The wait before attempt `attempt + 1` (attempt counts from 1): `BACKOFF_BASE · 2^(attempt-1)`,
/// capped, then "equal jitter": half of it fixed, the other half scaled by `jitter` (0..=1).
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let half = exp / 2;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    half + half.mul_f64(jitter)
}

/// A uniformly random number in 0..=1 (v4 UUIDs are random; no RNG crate needed for jitter).
pub(crate) fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() & u128::from(u32::MAX);
    f64::from(u32::try_from(bits).unwrap_or(0)) / f64::from(u32::MAX)
}

/// Sends one request. Blocking; bounded by the agent's timeout.
pub(crate) fn attempt(
    agent: &ureq::Agent,
    settings: &WebhookSettings,
    delivery: &Delivery,
    number: u32,
) -> Attempt {
    let mut request = agent
        .post(&settings.url)
        .header("Content-Type", "application/json")
        .header("X-Cclive-Event", delivery.event.as_str())
        .header("X-Cclive-Delivery", &delivery.id)
        .header("X-Cclive-Attempt", number.to_string());
    if let Some(secret) = &settings.secret {
        request = request.header(
            "X-Cclive-Signature",
            signature(secret.expose(), &delivery.body),
        );
    }
    match request.send(&delivery.body[..]) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            // Read (a little of) the answer so the connection can be reused; its content is
            // not ours to log.
            let _ = response
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_vec();
            Attempt::Answered {
                status,
                retry_after,
            }
        }
        Err(e) => {
            let timed_out = matches!(e, ureq::Error::Timeout(_));
            Attempt::Failed {
                error: describe_error(&e),
                timed_out,
            }
        }
    }
}

/// A short description of a request failure that never includes the URL.
pub(crate) fn describe_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("I/O error: {io}"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Tls(what) => format!("TLS error: {what}"),
        ureq::Error::Rustls(tls) => format!("TLS error: {tls}"),
        ureq::Error::Protocol(p) => format!("HTTP protocol error: {p}"),
        ureq::Error::BadUri(_) => "the URL is not valid".into(),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            "redirects are not followed".into()
        }
        _ => "the request failed".into(),
    }
}

/// The HTTP agent of one webhook: its timeout for the whole exchange, no redirects, statuses as
/// values.
pub(crate) fn agent(settings: &WebhookSettings) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("cclive/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Delivers one payload with retries. Returns the record of what happened, and whether it was
/// given up because shutdown came.
pub(crate) fn deliver(
    agent: &ureq::Agent,
    settings: &WebhookSettings,
    delivery: &Delivery,
    queue: &Queue<Arc<Delivery>>,
    status: &Mutex<SinkReport>,
) -> (DeliveryEntry, bool) {
    let started = Instant::now();
    let mut abandoned = false;
    let mut attempts = 0;
    let mut last_status: Option<u16>;
    let mut last_error: Option<String>;
    let mut ok = false;
    loop {
        attempts += 1;
        let result = attempt(agent, settings, delivery, attempts);
        let next = next_step(&result);
        match &result {
            Attempt::Answered { status: code, .. } => {
                last_status = Some(*code);
                last_error = (next != Next::Done).then(|| format!("HTTP {code}"));
            }
            Attempt::Failed { error, timed_out } => {
                last_status = None;
                last_error = Some(error.clone());
                if *timed_out {
                    lock(status).timeouts += 1;
                }
            }
        }
        let wait = match next {
            Next::Done => {
                ok = true;
                break;
            }
            Next::GiveUp => break,
            Next::Retry(_) if attempts >= settings.max_attempts => break,
            Next::Retry(at_least) => {
                backoff(attempts, random_unit()).max(at_least.unwrap_or_default())
            }
        };
        tracing::debug!(
            webhook = %settings.name,
            event = %delivery.event,
            attempt = attempts,
            error = last_error.as_deref().unwrap_or(""),
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "Webhook delivery failed; retrying."
        );
        if !queue.sleep_until(Instant::now() + wait) {
            last_error = Some("gave up at shutdown".into());
            abandoned = true;
            break;
        }
        lock(status).retries += 1;
    }
    if !ok && !abandoned {
        tracing::warn!(
            webhook = %settings.name,
            url = %redact_url(&settings.url),
            event = %delivery.event,
            attempts,
            error = last_error.as_deref().unwrap_or(""),
            "Webhook delivery failed."
        );
    }
    let record = DeliveryEntry {
        id: delivery.id.clone(),
        event: delivery.event.as_str().to_owned(),
        session_id: delivery.session_id.clone(),
        at: jiff::Timestamp::now(),
        attempts,
        outcome: if ok {
            Outcome::Delivered
        } else {
            Outcome::Failed
        },
        http_status: last_status,
        exit_code: None,
        error: if ok { None } else { last_error },
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    (record, abandoned)
}

/// Starts a webhook's delivery thread.
pub(crate) fn spawn(settings: WebhookSettings) -> std::io::Result<super::Worker> {
    let status = SinkReport::new(
        SinkKind::Webhook,
        settings.name.clone(),
        redact_url(&settings.url),
        super::event::names(&settings.events),
    );
    let queue_size = settings.queue_size;
    super::Worker::spawn(status, queue_size, move |handle| run(&settings, handle))
}

fn run(settings: &WebhookSettings, handle: &SinkHandle) {
    let agent = agent(settings);
    while let Some(delivery) = handle.queue.pop() {
        lock(&handle.status).in_flight = true;
        let (record, abandoned) =
            deliver(&agent, settings, &delivery, &handle.queue, &handle.status);
        let mut status = lock(&handle.status);
        status.in_flight = false;
        if abandoned {
            status.drop_one(record);
        } else {
            status.finish(record);
        }
    }
    super::count_abandoned(&handle.queue, &handle.status);
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use rstest::rstest;

    use super::*;
    use crate::sinks::notify::event::EventName;
    use crate::sinks::notify::settings::Secret;

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231-style known answer (the classic "quick brown fox" vector).
        assert_eq!(
            signature(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[rstest]
    #[case(200, Next::Done)]
    #[case(204, Next::Done)]
    #[case(301, Next::GiveUp)]
    #[case(400, Next::GiveUp)]
    #[case(401, Next::GiveUp)]
    #[case(404, Next::GiveUp)]
    #[case(408, Next::Retry(None))]
    #[case(429, Next::Retry(None))]
    #[case(500, Next::Retry(None))]
    #[case(503, Next::Retry(None))]
    fn which_answers_are_retried(#[case] status: u16, #[case] next: Next) {
        assert_eq!(
            next_step(&Attempt::Answered {
                status,
                retry_after: None
            }),
            next
        );
    }

    #[test]
    fn transport_failures_are_retried_and_retry_after_is_capped() {
        assert_eq!(
            next_step(&Attempt::Failed {
                error: "x".into(),
                timed_out: true
            }),
            Next::Retry(None)
        );
        assert_eq!(
            next_step(&Attempt::Answered {
                status: 429,
                retry_after: Some(Duration::from_hours(1))
            }),
            Next::Retry(Some(RETRY_AFTER_CAP))
        );
    }

    #[rstest]
    #[case(1, 0.0, 250)]
    #[case(1, 1.0, 500)]
    #[case(2, 1.0, 1000)]
    #[case(3, 0.5, 1500)]
    #[case(10, 1.0, 30_000)]
    #[case(40, 0.0, 15_000)]
    fn backoff_doubles_with_jitter_and_a_cap(
        #[case] attempt: u32,
        #[case] jitter: f64,
        #[case] millis: u64,
    ) {
        assert_eq!(backoff(attempt, jitter), Duration::from_millis(millis));
    }

    #[test]
    fn random_jitter_stays_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..=1.0).contains(&r));
        }
    }

    /// A receiver answering each connection with the next status of `answers`; returns what
    /// it received (head and body).
    fn receiver(answers: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook/secret-path", listener.local_addr().unwrap());
        let t = std::thread::spawn(move || {
            let mut got = Vec::new();
            for status in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            got.push(text);
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
            }
            got
        });
        (url, t)
    }

    fn settings(url: String) -> WebhookSettings {
        WebhookSettings {
            name: "test".into(),
            url,
            events: EventName::defaults(),
            secret: Some(Secret::new("s3cr3t")),
            timeout: Duration::from_secs(5),
            max_attempts: 3,
            queue_size: 10,
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            id: "d1".into(),
            event: EventName::SessionEnded,
            session_id: Some("s1".into()),
            status: None,
            body: Arc::from(&b"{\"event\":\"session_ended\"}"[..]),
        }
    }

    /// A fresh delivery status of one webhook.
    fn webhook_status() -> Mutex<SinkReport> {
        Mutex::new(SinkReport::new(
            SinkKind::Webhook,
            "t".into(),
            String::new(),
            vec![],
        ))
    }

    #[test]
    fn a_500_is_retried_and_the_second_attempt_delivers_signed() {
        let (url, server) = receiver(vec![500, 200]);
        let s = settings(url);
        let queue = Queue::new(10);
        let status = webhook_status();
        let (record, _) = deliver(&agent(&s), &s, &delivery(), &queue, &status);
        assert_eq!(record.outcome, Outcome::Delivered, "{record:?}");
        assert_eq!(record.attempts, 2);
        assert_eq!(record.http_status, Some(200));
        let got = server.join().unwrap();
        assert_eq!(got.len(), 2);
        let want = signature(b"s3cr3t", b"{\"event\":\"session_ended\"}");
        for (n, request) in got.iter().enumerate() {
            let lower = request.to_ascii_lowercase();
            assert!(request.starts_with("POST /hook/secret-path HTTP/1.1"));
            assert!(lower.contains(&format!("x-cclive-signature: {want}")));
            assert!(lower.contains("x-cclive-delivery: d1"));
            assert!(lower.contains(&format!("x-cclive-attempt: {}", n + 1)));
            assert!(lower.contains("content-type: application/json"));
        }
        assert_eq!(lock(&status).retries, 1);
    }

    #[test]
    fn a_404_is_not_retried() {
        let (url, server) = receiver(vec![404]);
        let s = settings(url);
        let queue = Queue::new(10);
        let status = webhook_status();
        let (record, _) = deliver(&agent(&s), &s, &delivery(), &queue, &status);
        assert_eq!(record.outcome, Outcome::Failed);
        assert_eq!(record.attempts, 1);
        assert_eq!(record.error.as_deref(), Some("HTTP 404"));
        assert_eq!(server.join().unwrap().len(), 1);
    }

    #[test]
    fn errors_never_show_the_url() {
        let url = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/very-secret", l.local_addr().unwrap())
        };
        let mut s = settings(url);
        s.max_attempts = 1;
        let queue = Queue::new(1);
        let status = webhook_status();
        let (record, _) = deliver(&agent(&s), &s, &delivery(), &queue, &status);
        assert_eq!(record.outcome, Outcome::Failed);
        let error = record.error.unwrap();
        assert!(!error.contains("very-secret"), "{error}");
    }
}

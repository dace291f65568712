//! A tiny blocking HTTP/1.1 client for talking to the monitor on loopback, std only.
//!
//! `cclive hook` runs once per Claude Code event and must finish within a few milliseconds
//! whatever the monitor does, so every call takes one hard deadline for the whole exchange
//! (resolve, connect, write, read): each socket operation gets what is left of it, and a
//! refused connection fails at once. It speaks just enough HTTP for our own server: one request
//! per connection (`Connection: close`), a `Content-Length` or chunked answer, bodies capped at
//! [`MAX_RESPONSE`]. A monitor with a token wants it on every request, loopback included: each
//! call takes the token (`Settings::client_token`, from `CCLIVE_TOKEN`) and sends it as
//! `Authorization: Bearer`. It is not a general client (no TLS, no redirects, no proxies): it never
//! leaves the machine unless the user pointed `listen` elsewhere.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest response body read.
pub(crate) const MAX_RESPONSE: usize = 1024 * 1024;

/// Why an exchange with the monitor failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The address does not resolve.
    #[error("cannot resolve {addr}: {reason}")]
    Resolve {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Nothing accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The deadline passed.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// The connection broke.
    #[error("I/O error talking to the monitor: {0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP we understand.
    #[error("bad HTTP response: {0}")]
    BadResponse(&'static str),
    /// A cclive monitor answers, but wants its token (none or another was sent).
    #[error(
        "a cclive monitor answers there but wants its token: set CCLIVE_TOKEN to the one it was \
         started with"
    )]
    NeedsToken,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The body (de-chunked).
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The address to connect to for a listen address: a wildcard host (`0.0.0.0`, `[::]`) becomes
/// the matching loopback address; anything else is returned as it is.
pub(crate) fn connect_target(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        Ok(SocketAddr::V6(a)) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        _ => listen.to_owned(),
    }
}

/// `POST path` with a JSON body (and the monitor's `token`, when one is configured), all within
/// `deadline`.
pub(crate) fn post_json(
    listen: &str,
    token: Option<&str>,
    path: &str,
    body: &[u8],
    deadline: Duration,
) -> Result<Response, ClientError> {
    exchange(listen, token, "POST", path, Some(body), deadline)
}

/// `GET path` (with `token`, when one is configured), all within `deadline`.
pub(crate) fn get(
    listen: &str,
    token: Option<&str>,
    path: &str,
    deadline: Duration,
) -> Result<Response, ClientError> {
    exchange(listen, token, "GET", path, None, deadline)
}

/// Whether a cclive monitor answers `GET /healthz` at `listen` within `deadline` (a 200 whose
/// JSON says `"service": "cclive"`; 8501 is also Streamlit's default port). A cclive monitor
/// refusing `token` is [`ClientError::NeedsToken`].
pub(crate) fn monitor_answers(
    listen: &str,
    token: Option<&str>,
    deadline: Duration,
) -> Result<(), ClientError> {
    let response = get(listen, token, "/healthz", deadline)?;
    if response.status == 401 && String::from_utf8_lossy(&response.body).contains("cclive") {
        return Err(ClientError::NeedsToken);
    }
    if response.status != 200 {
        return Err(ClientError::BadResponse("/healthz did not answer 200"));
    }
    let json: serde_json::Value = serde_json::from_slice(&response.body)
        .map_err(|_| ClientError::BadResponse("/healthz did not answer JSON"))?;
    if json["service"] == "cclive" {
        Ok(())
    } else {
        Err(ClientError::BadResponse(
            "something else listens there (/healthz is not cclive's)",
        ))
    }
}

fn exchange(
    listen: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    deadline: Duration,
) -> Result<Response, ClientError> {
    connect(listen, deadline)?.exchange(token, method, path, body)
}

/// Whether `listen` is a loopback address as it is written (no name to resolve): a connection
/// there is made or refused at once, unless the monitor's backlog is full.
pub(crate) fn is_loopback(listen: &str) -> bool {
    connect_target(listen)
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
}

/// A connection to the monitor, made within a deadline that also bounds the
/// [`Connection::exchange`] that follows.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    target: String,
    start: Instant,
    deadline: Duration,
}

/// Connects to the monitor at `listen`; the deadline starts now and covers the exchange too.
pub(crate) fn connect(listen: &str, deadline: Duration) -> Result<Connection, ClientError> {
    let start = Instant::now();
    let left = || left(start, deadline);
    let target = connect_target(listen);
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| ClientError::Resolve {
            addr: target.clone(),
            reason: e.to_string(),
        })?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left()?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(ClientError::TimedOut(deadline));
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = stream.ok_or_else(|| ClientError::Connect {
        addr: target.clone(),
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })?;
    let _ = stream.set_nodelay(true);
    Ok(Connection {
        stream,
        target,
        start,
        deadline,
    })
}

impl Connection {
    /// One request and its answer, within what is left of the deadline.
    pub(crate) fn exchange(
        self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let Connection {
            mut stream,
            target,
            start,
            deadline,
        } = self;
        let left = || left(start, deadline);
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: cclive/{}\r\n\
             Connection: close\r\nAccept: */*\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes();
        if let Some(token) = token {
            request.extend_from_slice(format!("Authorization: Bearer {token}\r\n").as_bytes());
        }
        if let Some(body) = body {
            request.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        request.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            request.extend_from_slice(body);
        }
        stream.set_write_timeout(Some(left()?))?;
        timed(stream.write_all(&request), deadline)?;

        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            if let Some(response) = parse(&raw, false)? {
                return Ok(response);
            }
            stream.set_read_timeout(Some(left()?))?;
            let n = timed(stream.read(&mut buf), deadline)?;
            if n == 0 {
                return parse(&raw, true)?
                    .ok_or(ClientError::BadResponse("connection closed early"));
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_RESPONSE + 64 * 1024 {
                return Err(ClientError::BadResponse("response too large"));
            }
        }
    }
}

/// What is left of `deadline` since `start`; none left is [`ClientError::TimedOut`].
fn left(start: Instant, deadline: Duration) -> Result<Duration, ClientError> {
    deadline
        .checked_sub(start.elapsed())
        .filter(|d| !d.is_zero())
        .ok_or(ClientError::TimedOut(deadline))
}

/// Maps a socket timeout to [`ClientError::TimedOut`].
fn timed<T>(result: std::io::Result<T>, deadline: Duration) -> Result<T, ClientError> {
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            ClientError::TimedOut(deadline)
        }
        _ => ClientError::Io(e),
    })
}

/// A complete response in `raw`, `None` when more bytes are needed (`eof`: no more will come,
/// so a body without a length ends here).
fn parse(raw: &[u8], eof: bool) -> Result<Option<Response>, ClientError> {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err(ClientError::BadResponse(
                "connection closed before the headers",
            ))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| ClientError::BadResponse("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(ClientError::BadResponse("no status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ClientError::BadResponse("not HTTP/1.x"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| ClientError::BadResponse("bad status code"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| ClientError::BadResponse("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let rest = &raw[head_end + 4..];
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let body = if no_body {
        Some(Vec::new())
    } else if chunked {
        dechunk(rest)?
    } else if let Some(length) = length {
        if length > MAX_RESPONSE {
            return Err(ClientError::BadResponse("response too large"));
        }
        (rest.len() >= length).then(|| rest[..length].to_vec())
    } else {
        eof.then(|| rest.to_vec())
    };
    match body {
        Some(body) => Ok(Some(Response { status, body })),
        None if eof => Err(ClientError::BadResponse(
            "connection closed inside the body",
        )),
        None => Ok(None),
    }
}

/// A complete chunked body, `None` while the last chunk has not arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&rest[..line_end])
            .map_err(|_| ClientError::BadResponse("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ClientError::BadResponse("bad chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if body.len() + size > MAX_RESPONSE {
            return Err(ClientError::BadResponse("response too large"));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A one-connection server answering `answer` (in pieces) after reading the request.
    fn serve_once(answer: &'static [&'static [u8]]) -> (String, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"}") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.starts_with(b"GET") && got.ends_with(b"\r\n\r\n") {
                    break;
                }
            }
            for piece in answer {
                s.write_all(piece).unwrap();
                s.flush().unwrap();
                thread::sleep(Duration::from_millis(2));
            }
            got
        });
        (addr, handle)
    }

    #[test]
    fn posts_json_and_reads_the_status() {
        let (addr, server) = serve_once(&[b"HTTP/1.1 204 No Content\r\n\r\n"]);
        let r = post_json(
            &addr,
            None,
            "/api/hooks",
            b"{\"a\":1}",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 204);
        assert!(r.is_success());
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            request.starts_with("POST /api/hooks HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Content-Length: 7\r\n"));
        assert!(!request.contains("Authorization"), "no token, no header");
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"));

        let (addr, server) = serve_once(&[b"HTTP/1.1 204 No Content\r\n\r\n"]);
        post_json(
            &addr,
            Some("tok-1234567890abcdef"),
            "/api/hooks",
            b"{}",
            Duration::from_secs(5),
        )
        .unwrap();
        let with_token = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            with_token.contains("\r\nAuthorization: Bearer tok-1234567890abcdef\r\n"),
            "{with_token}"
        );
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies() {
        let (addr, _s) = serve_once(&[
            b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{\"service\":",
            b"\"cclive\",\"ok\":true}",
        ]);
        monitor_answers(&addr, None, Duration::from_secs(5)).unwrap();

        let (addr, _s) = serve_once(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
            b"2;x=y\r\nde\r\n0\r\n\r\n",
        ]);
        assert_eq!(
            get(&addr, None, "/", Duration::from_secs(5)).unwrap().body,
            b"abcde"
        );

        let (addr, _s) = serve_once(&[b"HTTP/1.0 200 OK\r\n\r\nall of it"]);
        assert_eq!(
            get(&addr, None, "/", Duration::from_secs(5)).unwrap().body,
            b"all of it"
        );
    }

    #[test]
    fn something_else_on_the_port_is_not_the_monitor() {
        let (addr, _s) = serve_once(&[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"]);
        assert!(monitor_answers(&addr, None, Duration::from_secs(5)).is_err());
    }

    #[test]
    fn a_refused_connection_fails_at_once() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let err = post_json(&addr, None, "/api/hooks", b"{}", Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }

    #[test]
    fn a_silent_server_costs_the_deadline_and_no_more() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let start = Instant::now();
        let err =
            post_json(&addr, None, "/api/hooks", b"{}", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, ClientError::TimedOut(_)), "{err}");
        // Only a hang detector: the budget itself is measured, not asserted, in tests.
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn wildcard_listen_addresses_connect_to_loopback() {
        assert_eq!(connect_target("0.0.0.0:1"), "127.0.0.1:1");
        assert_eq!(connect_target("[::]:1"), "[::1]:1");
        assert_eq!(connect_target("127.0.0.1:1"), "127.0.0.1:1");
        assert_eq!(connect_target("localhost:1"), "localhost:1");
    }

    #[test]
    fn loopback_is_told_from_the_address_as_written() {
        for listen in [
            "127.0.0.1:8501",
            "0.0.0.0:1",
            "[::1]:1",
            "[::]:1",
            "127.9.9.9:1",
        ] {
            assert!(is_loopback(listen), "{listen}");
        }
        for listen in ["localhost:1", "10.0.0.1:1", "example.invalid:1", "nonsense"] {
            assert!(!is_loopback(listen), "{listen}");
        }
    }

    /// A connection made first (the status line makes it before it starts a thread) carries
    /// the same exchange as [`post_json`].
    #[test]
    fn a_connection_made_first_exchanges_later() {
        let (addr, server) = serve_once(&[b"HTTP/1.1 202 Accepted\r\n\r\n"]);
        let connection = connect(&addr, Duration::from_secs(5)).unwrap();
        let r = connection
            .exchange(Some("tok"), "POST", "/api/events", Some(b"{\"b\":2}"))
            .unwrap();
        assert_eq!(r.status, 202);
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            request.starts_with("POST /api/events HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nAuthorization: Bearer tok\r\n"));
        assert!(request.ends_with("\r\n\r\n{\"b\":2}"));

        let refused = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let err = connect(&refused, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    }
}

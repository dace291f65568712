//! A raw HTTP/1.1 client for the tests: every header is exactly what the test says (a browser's
//! `Origin`, a foreign `Host`, no `Host` at all), which ordinary clients do not allow.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request. `Host: 127.0.0.1:<port>` is added unless `headers` has a `Host` (use
/// `("Host", "")` to send none at all).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        let _ = write!(head, "Host: {addr}\r\n");
    }
    for (name, value) in headers {
        if !value.is_empty() || !name.eq_ignore_ascii_case("host") {
            let _ = write!(head, "{name}: {value}\r\n");
        }
    }
    if let Some(body) = body {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some(body) = body {
        stream.write_all(body).await.unwrap();
    }
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    parse(&raw)
}

/// Sends `raw` (a whole request, head and body, exactly as given) and reads the answer.
pub async fn request_raw(addr: SocketAddr, raw_request: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw_request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    parse(&raw)
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], None).await
}

pub async fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap();
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(&bytes),
    )
    .await
}

/// A status, headers, and where the body starts.
type Head = (u16, Vec<(String, String)>, usize);

fn split_head(raw: &[u8]) -> Option<Head> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).expect("UTF-8 headers");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some((status, headers, end + 4))
}

fn parse(raw: &[u8]) -> Response {
    let (status, headers, start) = split_head(raw).expect("complete headers");
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[start..];
    response.body = if response
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        let mut chunks = Chunks::default();
        chunks.feed(rest);
        chunks.data
    } else {
        rest.to_vec()
    };
    response
}

/// Incremental de-chunking.
#[derive(Default)]
struct Chunks {
    pending: Vec<u8>,
    data: Vec<u8>,
}

impl Chunks {
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        loop {
            let Some(line_end) = self.pending.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size_text = std::str::from_utf8(&self.pending[..line_end]).unwrap_or("0");
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            if self.pending.len() < line_end + 2 + size + 2 {
                return;
            }
            let chunk = self.pending[line_end + 2..line_end + 2 + size].to_vec();
            self.data.extend_from_slice(&chunk);
            self.pending.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return;
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub retry: Option<u64>,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// An open `/api/stream` (or any event stream).
pub struct EventStream {
    stream: TcpStream,
    chunks: Chunks,
    text: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl EventStream {
    pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (n, v) in headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let (status, headers, start) = loop {
            if let Some(parsed) = split_head(&raw) {
                break parsed;
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the headers");
            raw.extend_from_slice(&buf[..n]);
        };
        let mut chunks = Chunks::default();
        chunks.feed(&raw[start..]);
        EventStream {
            stream,
            chunks,
            text: String::new(),
            status,
            headers,
        }
    }

    /// The next event; `None` when the server closed the stream. Fails after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            self.text.push_str(&String::from_utf8_lossy(&std::mem::take(
                &mut self.chunks.data,
            )));
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                    retry: None,
                };
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        v.trim().clone_into(&mut event.event);
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    } else if let Some(v) = line.strip_prefix("retry:") {
                        event.retry = v.trim().parse().ok();
                    }
                }
                if data.is_empty() && event.retry.is_none() {
                    continue; // a comment
                }
                event.data = data.join("\n");
                return Some(event);
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no event within {timeout:?}; have {:?}", self.text));
            let mut buf = [0u8; 8192];
            let n = tokio::time::timeout(left, self.stream.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no event within {timeout:?}; have {:?}", self.text))
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.chunks.feed(&buf[..n]);
        }
    }

    /// Nothing arrives within `wait`.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        let mut buf = [0u8; 8192];
        match tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("the stream closed"),
            Ok(Ok(n)) => panic!("unexpected data: {:?}", String::from_utf8_lossy(&buf[..n])),
            Ok(Err(e)) => panic!("{e}"),
        }
    }
}

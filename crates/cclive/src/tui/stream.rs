//! Following a running monitor: its live stream (`GET /api/stream`, server-sent events) read on
//! a thread with std sockets, turned into [`Msg`]s.
//!
//! The stream's first event is `snapshot` (the full live state), then one `update` per change,
//! and `resync` (the full state again) after this client fell behind. The server sends no
//! keep-alives, so a quiet stream is a blocked read; the thread simply lives until the process
//! ends. When the connection drops (the monitor restarted) it says so and reconnects every
//! second. The framing (HTTP chunks, SSE lines) is pure and tested on bytes.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::mpsc::Sender;
use std::time::Duration;

use cclive_core::{Snapshot, Update};
use tracing::debug;

use super::app::{Msg, Source};
use crate::monitor::client::connect_target;

/// Wait between two connection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// Longest wait for the response's headers.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest header block accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Follows the stream at `listen` until the receiver of `tx` is gone.
pub(crate) fn follow(listen: &str, token: Option<&str>, tx: &Sender<Msg>) {
    let source = |connected| {
        Msg::Source(Source::Following {
            addr: listen.to_owned(),
            connected,
        })
    };
    let mut down_announced = false;
    loop {
        let on_event = |name: &str, data: &str| {
            let msg = match name {
                "snapshot" | "resync" => serde_json::from_str::<Snapshot>(data)
                    .map(|s| Msg::Snapshot(Box::new(s)))
                    .map_err(|e| debug!(error = %e, "A snapshot did not parse.")),
                "update" => serde_json::from_str::<Update>(data)
                    .map(|u| Msg::Update(Box::new(u)))
                    .map_err(|e| debug!(error = %e, "An update did not parse.")),
                _ => return true,
            };
            msg.map_or(true, |msg| tx.send(msg).is_ok())
        };
        let on_open = || {
            down_announced = false;
            let _ = tx.send(source(true));
        };
        match read_stream(listen, token, on_event, on_open) {
            Ok(Ended::ReceiverGone) => return,
            Ok(Ended::Closed) => debug!("The monitor's stream ended."),
            Err(e) => debug!(error = %e, "The monitor's stream is down."),
        }
        if !down_announced {
            down_announced = true;
            if tx.send(source(false)).is_err() {
                return;
            }
        }
        std::thread::sleep(RETRY);
    }
}

/// How a stream ended without an error.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The server closed it (shut down).
    Closed,
    /// `on_event` said stop.
    ReceiverGone,
}

/// One connection: `on_open` once the server answered 200, then `on_event(name, data)` per
/// event until it returns false or the stream ends.
fn read_stream(
    listen: &str,
    token: Option<&str>,
    mut on_event: impl FnMut(&str, &str) -> bool,
    on_open: impl FnOnce(),
) -> std::io::Result<Ended> {
    let target = connect_target(listen);
    let addrs: Vec<SocketAddr> = target.to_socket_addrs()?.collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, HEAD_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream =
        stream.ok_or_else(|| last.unwrap_or_else(|| std::io::Error::other("no address")))?;
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET /api/stream HTTP/1.1\r\nHost: {target}\r\nUser-Agent: cclive-top/{}\r\n\
         Accept: text/event-stream\r\n{auth}Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes())?;
    stream.set_read_timeout(Some(HEAD_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    if head.status != 200 {
        return Err(std::io::Error::other(format!(
            "the monitor answered {} to /api/stream",
            head.status
        )));
    }
    reader.get_ref().set_read_timeout(None)?;
    on_open();
    let mut parser = SseParser::default();
    let mut keep_going = |bytes: &[u8]| {
        parser
            .push(bytes)
            .iter()
            .all(|(name, data)| on_event(name, data))
    };
    let stopped = if head.chunked {
        read_chunked(&mut reader, &mut keep_going)?
    } else {
        read_plain(&mut reader, &mut keep_going)?
    };
    Ok(if stopped {
        Ended::ReceiverGone
    } else {
        Ended::Closed
    })
}

/// The parts of a response head the stream needs.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    chunked: bool,
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Head> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut status = None;
    let mut chunked = false;
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Err(bad("the response ended inside its headers"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        match status {
            None => {
                let code = line
                    .strip_prefix("HTTP/1.")
                    .and_then(|rest| rest.split(' ').nth(1))
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| bad("not an HTTP/1.x response"))?;
                status = Some(code);
            }
            Some(_) => {
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("transfer-encoding")
                {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
            }
        }
    }
    Ok(Head {
        status: status.ok_or_else(|| bad("no status line"))?,
        chunked,
    })
}

/// Reads a chunked body, handing each chunk on. True when `on_bytes` asked to stop.
fn read_chunked(
    reader: &mut impl BufRead,
    on_bytes: &mut impl FnMut(&[u8]) -> bool,
) -> std::io::Result<bool> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        let size_text = line.trim().split(';').next().unwrap_or_default();
        if size_text.is_empty() {
            continue;
        }
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            return Ok(false);
        }
        let mut chunk = vec![0; size];
        reader.read_exact(&mut chunk)?;
        if !on_bytes(&chunk) {
            return Ok(true);
        }
    }
}

/// Reads a body delimited by the connection's end.
fn read_plain(
    reader: &mut impl Read,
    on_bytes: &mut impl FnMut(&[u8]) -> bool,
) -> std::io::Result<bool> {
    let mut buf = [0_u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(false);
        }
        if !on_bytes(&buf[..n]) {
            return Ok(true);
        }
    }
}

/// Server-sent events from bytes: lines of `event:` and `data:` fields, an empty line ends an
/// event. Partial lines are carried to the next push.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    partial: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns the events completed, as `(name, data)`.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<(String, String)> {
        self.partial.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    let name = if self.event.is_empty() {
                        "message".to_owned()
                    } else {
                        std::mem::take(&mut self.event)
                    };
                    out.push((name, self.data.join("\n")));
                }
                self.event.clear();
                self.data.clear();
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => value.clone_into(&mut self.event),
                "data" => self.data.push(value.to_owned()),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn events_are_framed_across_pushes() {
        let mut p = SseParser::default();
        assert!(p.push(b"retry: 1000\nevent: snap").is_empty());
        let got =
            p.push(b"shot\ndata: {\"a\":\r\ndata: 1}\n\n: comment\ndata: x\n\nevent: update\n");
        assert_eq!(
            got,
            [
                ("snapshot".to_owned(), "{\"a\":\n1}".to_owned()),
                ("message".to_owned(), "x".to_owned())
            ]
        );
        assert_eq!(
            p.push(b"data: {}\n\n"),
            [("update".to_owned(), "{}".to_owned())]
        );
    }

    #[test]
    fn a_chunked_stream_is_read_chunk_by_chunk() {
        let body = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                     d\r\nevent: a\ndata\r\n8;x=y\r\n: 1\n\ndat\r\n6\r\na: 2\n\n\r\n0\r\n\r\n";
        let mut reader = Cursor::new(&body[..]);
        let head = read_head(&mut reader).unwrap();
        assert_eq!(
            head,
            Head {
                status: 200,
                chunked: true
            }
        );
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let stopped = read_chunked(&mut reader, &mut |bytes: &[u8]| {
            events.extend(parser.push(bytes));
            true
        })
        .unwrap();
        assert!(!stopped);
        assert_eq!(
            events,
            [
                ("a".to_owned(), "1".to_owned()),
                ("message".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn a_refused_stream_is_an_error() {
        let mut reader =
            Cursor::new(&b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"[..]);
        assert_eq!(read_head(&mut reader).unwrap().status, 401);
        let mut reader = Cursor::new(&b"SSH-2.0-OpenSSH\r\n"[..]);
        assert!(read_head(&mut reader).is_err());
    }
}

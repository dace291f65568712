//! A loopback fake of the Anthropic Messages API for end-to-end tests that drive the real
//! Claude Code CLI (`ANTHROPIC_BASE_URL=<FakeApi::url()>`).
//!
//! It owns one scripted [`Scenario`] per server and answers `POST /v1/messages[?beta=true]` with
//! the event sequence the real API streams (`message_start` … `message_stop`, see
//! `/work/shared/claude-code-formats.md` §2.4 and §3), or with the real error bodies. Every request
//! is recorded ([`RecordedRequest`]) so tests can assert on what the CLI asked for.
//!
//! The server runs on its own thread with its own current-thread tokio runtime, so plain
//! synchronous `#[test]` functions can use it; dropping the [`FakeApi`] stops it.
//!
//! It speaks a minimal HTTP/1.1 (keep-alive, `Content-Length` or chunked request bodies, chunked
//! streaming responses) on a tokio `TcpListener` rather than axum: a response that streams over
//! time needs a `Stream` or an `http_body::Frame`, and neither trait nor type is reachable from the
//! crate's dev-dependencies. It must never talk to anything but 127.0.0.1.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The text every text answer of a main request carries.
pub const TEXT_ANSWER: &str = "Hello from the fake API.";
/// The text side requests (title / summary generation with a small `max_tokens`) get.
pub const SIDE_ANSWER: &str = "Fake side answer";
/// The Bash command of the scripted tool call; its tool result is `hi`.
pub const BASH_COMMAND: &str = "echo hi";
/// The Bash description of the scripted tool call.
pub const BASH_DESCRIPTION: &str = "Print hi";
/// What marks a sub-agent's requests in [`Scenario::AgentThenText`]: its prompt starts with it.
pub const SUBAGENT_MARKER: &str = "[fakeapi-subagent]";
/// How long the slow text answer of [`Scenario::Slow`] streams unless [`FakeApi::start_slow`]
/// says otherwise.
pub const DEFAULT_SLOW_STREAM: Duration = Duration::from_secs(6);
/// Number of `text_delta` chunks of the slow text answer.
pub const SLOW_CHUNKS: usize = 12;
/// `usage` of `message_start` (and of the non-streaming answer, with `output_tokens` replaced).
pub const INPUT_TOKENS: u64 = 1200;
/// `cache_creation_input_tokens` of every answer.
pub const CACHE_CREATION_INPUT_TOKENS: u64 = 300;
/// `cache_read_input_tokens` of every answer.
pub const CACHE_READ_INPUT_TOKENS: u64 = 5000;
/// `usage.output_tokens` of the final `message_delta`.
pub const OUTPUT_TOKENS: u64 = 42;
/// Requests with a `max_tokens` at or below this are side requests (titles, summaries): the
/// main loop of 2.1.332 asks for 128000 (64000 for its non-streaming fallback), side calls for
/// 512–3072.
pub const SIDE_MAX_TOKENS: u64 = 8192;

/// The usage every answer reports (side requests included). The default is the constants above
/// with 5-minute cache writes only, no web search, standard speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageProfile {
    /// `input_tokens`.
    pub input: u64,
    /// `output_tokens` of the final `message_delta` (and of a non-streaming answer).
    pub output: u64,
    /// `cache_read_input_tokens`.
    pub cache_read: u64,
    /// `cache_creation_input_tokens`.
    pub cache_creation: u64,
    /// Of `cache_creation`, the 1-hour writes (`cache_creation.ephemeral_1h_input_tokens`).
    pub cache_creation_1h: u64,
    /// `server_tool_use.web_search_requests`.
    pub web_search_requests: u64,
}

impl Default for UsageProfile {
    fn default() -> Self {
        UsageProfile {
            input: INPUT_TOKENS,
            output: OUTPUT_TOKENS,
            cache_read: CACHE_READ_INPUT_TOKENS,
            cache_creation: CACHE_CREATION_INPUT_TOKENS,
            cache_creation_1h: 0,
            web_search_requests: 0,
        }
    }
}

impl UsageProfile {
    /// The API `usage` object with `output_tokens`.
    fn json(&self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.input,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation - self.cache_creation_1h,
                "ephemeral_1h_input_tokens": self.cache_creation_1h,
            },
            "server_tool_use": {"web_search_requests": self.web_search_requests},
            "service_tier": "standard",
        })
    }
}

/// What the fake answers to the main-loop `POST /v1/messages` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every main request gets the text [`TEXT_ANSWER`] (in a few chunks), `end_turn`.
    Text,
    /// A `Bash` tool call (`echo hi`) until the last user message carries a `tool_result`,
    /// then text. A print run has `num_turns` 2 and one Bash call.
    BashThenText,
    /// Like [`Scenario::BashThenText`], but the text answer streams over
    /// [`DEFAULT_SLOW_STREAM`] (or the duration given to [`FakeApi::start_slow`]).
    Slow,
    /// A `Bash` tool call (`echo hi`) in each of this many rounds, one after the other (until
    /// the conversation holds that many `tool_result`s), then text: a print run has
    /// `num_turns` 1 + n.
    BashRounds(u32),
    /// Every main request gets the text answer streamed slowly, as [`Scenario::Slow`]'s last
    /// answer (set by [`FakeApi::start_slow_text`]): a long first reply.
    SlowText,
    /// An `Agent` tool call (a general-purpose sub-agent whose prompt carries
    /// [`SUBAGENT_MARKER`]) until the last user message carries a `tool_result`, then text. The
    /// sub-agent's own requests get a `Bash` call, then text: Claude Code 2.1 writes them to
    /// `<session>/subagents/agent-<id>.jsonl`. Claude needs `--allowedTools Bash Agent`.
    AgentThenText,
    /// HTTP 500 `api_error` for every request.
    Error500,
    /// HTTP 529 `overloaded_error` for every request.
    Overloaded529,
}

/// Which kind of request the fake took a request for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A `POST /v1/messages` of the agent loop (it carries tools and a large `max_tokens`).
    Main,
    /// A `POST /v1/messages` with a small `max_tokens` or no tools (title, summary, …).
    Side,
    /// Any other method or path (`count_tokens`, `HEAD /`, …).
    Other,
}

/// What the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A text message.
    Text,
    /// A message with one `tool_use` block of this tool.
    ToolUse {
        /// The tool name (`Bash`).
        name: String,
    },
    /// An API error with this HTTP status.
    Error {
        /// 500 or 529.
        status: u16,
    },
    /// `{"input_tokens": 1200}` for `count_tokens`.
    CountTokens,
    /// `200 {}` for `HEAD`/`GET /`.
    Empty,
    /// 400 `invalid_request_error` (the body was not JSON).
    BadRequest,
    /// 404 `not_found_error`.
    NotFound,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Text => f.write_str("text"),
            Action::ToolUse { name } => write!(f, "tool_use:{name}"),
            Action::Error { status } => write!(f, "error:{status}"),
            Action::CountTokens => f.write_str("count_tokens"),
            Action::Empty => f.write_str("empty"),
            Action::BadRequest => f.write_str("bad_request"),
            Action::NotFound => f.write_str("not_found"),
        }
    }
}

/// One request the fake received, and what it did about it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// 1-based arrival order.
    pub seq: usize,
    /// `POST`, `HEAD`, …
    pub method: String,
    /// The request target with its query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Request headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body's `model`.
    pub model: Option<String>,
    /// The body's `stream` (false when absent).
    pub stream: bool,
    /// The body's `max_tokens`.
    pub max_tokens: Option<u64>,
    /// Number of entries in the body's `messages`.
    pub n_messages: usize,
    /// Number of entries in the body's `tools`.
    pub n_tools: usize,
    /// How the fake classified the request.
    pub kind: RequestKind,
    /// What the fake answered.
    pub action: Action,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The `request-id` response header sent.
    pub request_id: String,
    /// `msg_fake_…` when a message was answered.
    pub message_id: Option<String>,
    /// When the request (head and body) had been read.
    pub received_at: SystemTime,
    /// When the last byte of the answer was written (`None` while a stream is still running,
    /// or if the client went away).
    pub finished_at: Option<SystemTime>,
}

impl RecordedRequest {
    /// The value of a request header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake API server; stops when dropped.
pub struct FakeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeApi")
            .field("addr", &self.addr)
            .field("scenario", &self.shared.scenario)
            .finish_non_exhaustive()
    }
}

impl FakeApi {
    /// Starts a fake for `scenario` on 127.0.0.1 (a free port); returns once it is listening.
    pub fn start(scenario: Scenario) -> FakeApi {
        Self::start_inner(scenario, DEFAULT_SLOW_STREAM, UsageProfile::default())
    }

    /// Starts a fake for `scenario` whose every answer reports `usage`.
    pub fn start_with_usage(scenario: Scenario, usage: UsageProfile) -> FakeApi {
        Self::start_inner(scenario, DEFAULT_SLOW_STREAM, usage)
    }

    /// Starts a [`Scenario::Slow`] fake whose text answer streams for about `total` between
    /// `message_start` and `message_stop` ([`SLOW_CHUNKS`] deltas, `total / SLOW_CHUNKS` apart).
    pub fn start_slow(total: Duration) -> FakeApi {
        Self::start_inner(Scenario::Slow, total, UsageProfile::default())
    }

    /// Starts a fake for `scenario` whose every answer reports `usage` and whose slow text
    /// answer (if the scenario has one) streams for about `slow_total`.
    pub fn start_with(scenario: Scenario, slow_total: Duration, usage: UsageProfile) -> FakeApi {
        Self::start_inner(scenario, slow_total, usage)
    }

    /// Starts a [`Scenario::SlowText`] fake: the first answer already streams for about `total`.
    pub fn start_slow_text(total: Duration) -> FakeApi {
        Self::start_inner(Scenario::SlowText, total, UsageProfile::default())
    }

    fn start_inner(scenario: Scenario, slow_total: Duration, usage: UsageProfile) -> FakeApi {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("fake API: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().expect("fake API: local_addr");
        listener
            .set_nonblocking(true)
            .expect("fake API: set_nonblocking");
        let shared = Arc::new(Shared {
            scenario,
            slow_total,
            usage,
            requests: Mutex::new(Vec::new()),
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fake-api-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake API: tokio runtime");
                runtime.block_on(async move {
                    let listener =
                        TcpListener::from_std(listener).expect("fake API: tokio listener");
                    accept_loop(listener, thread_shared, shutdown_rx).await;
                });
                // Cancels connections still streaming.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("fake API: spawn thread");
        FakeApi {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The scenario this fake plays.
    pub fn scenario(&self) -> Scenario {
        self.shared.scenario
    }

    /// A snapshot of every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().clone()
    }

    /// The recorded main-loop requests (`kind == Main`).
    pub fn main_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.kind == RequestKind::Main)
            .collect()
    }

    /// Polls the recorded requests every 20 ms until `pred` holds (true) or `timeout` passes
    /// (false). E.g. wait until the slow text stream has started but not finished.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&[RecordedRequest]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.shared.lock()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Shared {
    scenario: Scenario,
    slow_total: Duration,
    usage: UsageProfile,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        // A panicking test thread must not hide the log from the others.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request and returns its index.
    fn record(&self, mut req: RecordedRequest) -> usize {
        let mut all = self.lock();
        req.seq = all.len() + 1;
        eprintln!(
            "fake API: #{} {} {} model={} stream={} max_tokens={} kind={:?} -> {} ({})",
            req.seq,
            req.method,
            req.path,
            req.model.as_deref().unwrap_or("-"),
            req.stream,
            req.max_tokens
                .map_or_else(|| "-".to_owned(), |m| m.to_string()),
            req.kind,
            req.action,
            req.status,
        );
        all.push(req);
        all.len() - 1
    }

    fn finished(&self, index: usize) {
        if let Some(req) = self.lock().get_mut(index) {
            req.finished_at = Some(SystemTime::now());
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if let Err(e) = serve_connection(stream, &shared).await {
                            eprintln!("fake API: connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    eprintln!("fake API: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1

const MAX_HEAD_BYTES: usize = 64 * 1024;

struct HttpRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn serve_connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Some(request) = read_request(&mut read).await? {
        let keep_alive = request.keep_alive;
        handle(request, shared, &mut write, keep_alive).await?;
        if !keep_alive {
            break;
        }
    }
    write.shutdown().await
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one CRLF-terminated line, without the line end; `None` at a clean EOF.
async fn read_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    budget: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = read.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    *budget = budget
        .checked_sub(n)
        .ok_or_else(|| invalid("request head too large"))?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("non-UTF-8 request head"))
}

async fn read_request<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<HttpRequest>> {
    let mut budget = MAX_HEAD_BYTES;
    // Tolerate empty lines between requests (RFC 9112 §2.2).
    let request_line = loop {
        match read_line(read, &mut budget).await? {
            None => return Ok(None),
            Some(line) if line.is_empty() => {}
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(read, &mut budget)
            .await?
            .ok_or_else(|| invalid("EOF in request head"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        keep_alive: false,
        headers,
        body: Vec::new(),
    };
    let connection = request
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    request.keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked_body(read).await?;
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad content-length {len:?}")))?;
        let mut body = vec![0; len];
        read.read_exact(&mut body).await?;
        request.body = body;
    }
    Ok(Some(request))
}

async fn read_chunked_body<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD_BYTES;
        let line = read_line(read, &mut budget)
            .await?
            .ok_or_else(|| invalid("EOF in chunked body"))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(read, &mut budget)
                .await?
                .is_some_and(|l| !l.is_empty())
            {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        read.read_exact(&mut body[start..]).await?;
        let mut crlf = [0; 2];
        read.read_exact(&mut crlf).await?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Unknown",
    }
}

fn response_head(status: u16, headers: &[(&str, &str)], keep_alive: bool) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str(if keep_alive {
        "connection: keep-alive\r\n\r\n"
    } else {
        "connection: close\r\n\r\n"
    });
    head
}

/// Writes a complete response with a `content-length` (no body for `HEAD`).
async fn write_full<W: AsyncWrite + Unpin>(
    write: &mut W,
    method: &str,
    status: u16,
    request_id: &str,
    body: &Value,
    keep_alive: bool,
) -> std::io::Result<()> {
    let body = body.to_string();
    let len = body.len().to_string();
    let head = response_head(
        status,
        &[
            ("content-type", "application/json"),
            ("content-length", &len),
            ("request-id", request_id),
        ],
        keep_alive,
    );
    write.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        write.write_all(body.as_bytes()).await?;
    }
    write.flush().await
}

async fn write_chunk<W: AsyncWrite + Unpin>(write: &mut W, data: &str) -> std::io::Result<()> {
    write
        .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await?;
    write.flush().await
}

// ---------------------------------------------------------------------------------------------
// Scenario logic

/// What the fake does about one request.
struct Plan {
    kind: RequestKind,
    action: Action,
    reply: Reply,
}

/// The reply planned for one request.
enum Reply {
    Message(Answer),
    Json { status: u16, body: Value },
}

/// The content of one assistant message.
enum Answer {
    Text {
        chunks: Vec<String>,
        /// Pause before each `text_delta`.
        pace: Duration,
    },
    ToolUse {
        name: String,
        input: Value,
        json_chunks: Vec<String>,
    },
}

impl Answer {
    fn text(text: &str) -> Answer {
        Answer::Text {
            chunks: text.split_inclusive(' ').map(str::to_owned).collect(),
            pace: Duration::ZERO,
        }
    }

    fn slow_text(text: &str, total: Duration) -> Answer {
        let chars: Vec<char> = text.chars().collect();
        let per_chunk = chars.len().div_ceil(SLOW_CHUNKS).max(1);
        let chunks: Vec<String> = chars
            .chunks(per_chunk)
            .map(|c| c.iter().collect())
            .collect();
        let n = u32::try_from(chunks.len()).unwrap_or(u32::MAX).max(1);
        Answer::Text {
            chunks,
            pace: total / n,
        }
    }

    fn bash() -> Answer {
        let input = json!({"command": BASH_COMMAND, "description": BASH_DESCRIPTION});
        // Split the JSON text across deltas as the real API does (mid-string).
        let full = input.to_string();
        let cut = |at: usize| full.char_indices().nth(at).map_or(full.len(), |(i, _)| i);
        let (a, b) = (cut(full.len() / 3), cut(2 * full.len() / 3));
        Answer::ToolUse {
            name: "Bash".to_owned(),
            input,
            json_chunks: vec![
                full[..a].to_owned(),
                full[a..b].to_owned(),
                full[b..].to_owned(),
            ],
        }
    }

    /// A general-purpose sub-agent that runs `echo sub` (see [`Scenario::AgentThenText`]).
    fn agent() -> Answer {
        let input = json!({
            "description": "Say hi from a subagent",
            "prompt": format!("{SUBAGENT_MARKER} Run `echo sub` with Bash and report the output."),
            "subagent_type": "general-purpose",
            "run_in_background": false,
        });
        let full = input.to_string();
        let cut = full
            .char_indices()
            .nth(full.len() / 2)
            .map_or(full.len(), |(i, _)| i);
        Answer::ToolUse {
            name: "Agent".to_owned(),
            input,
            json_chunks: vec![full[..cut].to_owned(), full[cut..].to_owned()],
        }
    }

    fn action(&self) -> Action {
        match self {
            Answer::Text { .. } => Action::Text,
            Answer::ToolUse { name, .. } => Action::ToolUse { name: name.clone() },
        }
    }

    fn stop_reason(&self) -> &'static str {
        match self {
            Answer::Text { .. } => "end_turn",
            Answer::ToolUse { .. } => "tool_use",
        }
    }

    /// The complete content block (non-streaming answer).
    fn block(&self, tool_use_id: &str) -> Value {
        match self {
            Answer::Text { chunks, .. } => json!({"type": "text", "text": chunks.concat()}),
            Answer::ToolUse { name, input, .. } => {
                json!({"type": "tool_use", "id": tool_use_id, "name": name, "input": input})
            }
        }
    }

    /// The `content_block_start` block (empty text / empty input).
    fn start_block(&self, tool_use_id: &str) -> Value {
        match self {
            Answer::Text { .. } => json!({"type": "text", "text": ""}),
            Answer::ToolUse { name, .. } => {
                json!({"type": "tool_use", "id": tool_use_id, "name": name, "input": {}})
            }
        }
    }

    /// The deltas, each with the pause to take before sending it.
    fn deltas(&self) -> Vec<(Duration, Value)> {
        match self {
            Answer::Text { chunks, pace } => chunks
                .iter()
                .map(|c| (*pace, json!({"type": "text_delta", "text": c})))
                .collect(),
            Answer::ToolUse { json_chunks, .. } => json_chunks
                .iter()
                .map(|c| {
                    (
                        Duration::ZERO,
                        json!({"type": "input_json_delta", "partial_json": c}),
                    )
                })
                .collect(),
        }
    }
}

fn api_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// True for a sub-agent's request: its first user message carries [`SUBAGENT_MARKER`].
fn is_subagent(body: &Value) -> bool {
    let Some(first) = body["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
    else {
        return false;
    };
    let content = &first["content"];
    content
        .as_str()
        .is_some_and(|t| t.contains(SUBAGENT_MARKER))
        || content.as_array().into_iter().flatten().any(|block| {
            block["text"]
                .as_str()
                .is_some_and(|t| t.contains(SUBAGENT_MARKER))
        })
}

/// True when the last `user` message carries a `tool_result` block.
fn last_user_has_tool_result(body: &Value) -> bool {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
}

/// How many `tool_result` blocks the conversation holds.
fn tool_results(body: &Value) -> usize {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .count()
}

fn classify(body: &Value) -> RequestKind {
    let small = body["max_tokens"]
        .as_u64()
        .is_some_and(|m| m <= SIDE_MAX_TOKENS);
    let no_tools = body["tools"].as_array().is_none_or(Vec::is_empty);
    if small || no_tools {
        RequestKind::Side
    } else {
        RequestKind::Main
    }
}

/// Decides the answer to one request; pure apart from reading the scenario.
fn plan(shared: &Shared, method: &str, path: &str, body: Option<&Value>) -> Plan {
    let messages = method == "POST" && path == "/v1/messages";
    let kind = match body {
        Some(body) if messages => classify(body),
        _ => RequestKind::Other,
    };
    let json = |action: Action, status: u16, body: Value| Plan {
        kind,
        action,
        reply: Reply::Json { status, body },
    };
    match shared.scenario {
        Scenario::Error500 => {
            let body = api_error("api_error", "Internal server error");
            return json(Action::Error { status: 500 }, 500, body);
        }
        Scenario::Overloaded529 => {
            let body = api_error("overloaded_error", "Overloaded");
            return json(Action::Error { status: 529 }, 529, body);
        }
        Scenario::Text
        | Scenario::BashThenText
        | Scenario::Slow
        | Scenario::SlowText
        | Scenario::AgentThenText
        | Scenario::BashRounds(_) => {}
    }
    let answer = match (kind, body) {
        (RequestKind::Main, Some(body)) => match shared.scenario {
            Scenario::BashThenText | Scenario::Slow if !last_user_has_tool_result(body) => {
                Answer::bash()
            }
            Scenario::BashRounds(n) if tool_results(body) < n as usize => Answer::bash(),
            Scenario::AgentThenText if !last_user_has_tool_result(body) => {
                if is_subagent(body) {
                    Answer::bash()
                } else {
                    Answer::agent()
                }
            }
            Scenario::Slow | Scenario::SlowText => {
                Answer::slow_text(TEXT_ANSWER, shared.slow_total)
            }
            _ => Answer::text(TEXT_ANSWER),
        },
        (RequestKind::Side, _) => Answer::text(SIDE_ANSWER),
        _ if messages => {
            let body = api_error("invalid_request_error", "Body is not JSON");
            return json(Action::BadRequest, 400, body);
        }
        _ => {
            return match (method, path) {
                ("POST", "/v1/messages/count_tokens") => json(
                    Action::CountTokens,
                    200,
                    json!({"input_tokens": INPUT_TOKENS}),
                ),
                ("HEAD" | "GET", "/") => json(Action::Empty, 200, json!({})),
                _ => json(
                    Action::NotFound,
                    404,
                    api_error("not_found_error", "Not found"),
                ),
            };
        }
    };
    Plan {
        kind,
        action: answer.action(),
        reply: Reply::Message(answer),
    }
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

fn sse_frame(event: &Value) -> String {
    let kind = event["type"].as_str().unwrap_or("unknown");
    format!("event: {kind}\ndata: {event}\n\n")
}

async fn handle<W: AsyncWrite + Unpin>(
    request: HttpRequest,
    shared: &Shared,
    write: &mut W,
    keep_alive: bool,
) -> std::io::Result<()> {
    let path = request
        .target
        .split_once('?')
        .map_or(request.target.as_str(), |(p, _)| p);
    let body: Option<Value> = serde_json::from_slice(&request.body).ok();
    let Plan {
        kind,
        action,
        reply,
    } = plan(shared, &request.method, path, body.as_ref());
    let model = body
        .as_ref()
        .and_then(|b| b["model"].as_str())
        .unwrap_or("claude-fake")
        .to_owned();
    let stream = body
        .as_ref()
        .and_then(|b| b["stream"].as_bool())
        .unwrap_or(false);
    let request_id = format!("req_fake_{}", random_hex());
    let message_id =
        matches!(reply, Reply::Message(_)).then(|| format!("msg_fake_{}", random_hex()));
    let status = match &reply {
        Reply::Message(_) => 200,
        Reply::Json { status, .. } => *status,
    };
    let count = |key: &str| {
        body.as_ref()
            .and_then(|b| b[key].as_array())
            .map_or(0, Vec::len)
    };
    let index = shared.record(RecordedRequest {
        seq: 0,
        method: request.method.clone(),
        path: request.target.clone(),
        headers: request.headers.clone(),
        model: body
            .as_ref()
            .and_then(|b| b["model"].as_str())
            .map(str::to_owned),
        stream,
        max_tokens: body.as_ref().and_then(|b| b["max_tokens"].as_u64()),
        n_messages: count("messages"),
        n_tools: count("tools"),
        kind,
        action,
        status,
        request_id: request_id.clone(),
        message_id: message_id.clone(),
        received_at: SystemTime::now(),
        finished_at: None,
    });

    match reply {
        Reply::Json { status, body } => {
            write_full(
                write,
                &request.method,
                status,
                &request_id,
                &body,
                keep_alive,
            )
            .await?;
        }
        Reply::Message(answer) => {
            let message_id = message_id.unwrap_or_default();
            let tool_use_id = format!("toolu_fake_{}", random_hex());
            if stream {
                stream_message(
                    write,
                    &shared.usage,
                    &answer,
                    &model,
                    &message_id,
                    &tool_use_id,
                    &request_id,
                    keep_alive,
                )
                .await?;
            } else {
                let body = json!({
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [answer.block(&tool_use_id)],
                    "stop_reason": answer.stop_reason(),
                    "stop_sequence": null,
                    "usage": shared.usage.json(shared.usage.output),
                });
                write_full(write, &request.method, 200, &request_id, &body, keep_alive).await?;
            }
        }
    }
    shared.finished(index);
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the ids and the usage of one streamed answer
async fn stream_message<W: AsyncWrite + Unpin>(
    write: &mut W,
    usage: &UsageProfile,
    answer: &Answer,
    model: &str,
    message_id: &str,
    tool_use_id: &str,
    request_id: &str,
    keep_alive: bool,
) -> std::io::Result<()> {
    let head = response_head(
        200,
        &[
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            ("request-id", request_id),
        ],
        keep_alive,
    );
    write.write_all(head.as_bytes()).await?;
    let start = json!({
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage.json(1),
        },
    });
    write_chunk(write, &sse_frame(&start)).await?;
    let block_start = json!({
        "type": "content_block_start",
        "index": 0,
        "content_block": answer.start_block(tool_use_id),
    });
    write_chunk(write, &sse_frame(&block_start)).await?;
    write_chunk(write, &sse_frame(&json!({"type": "ping"}))).await?;
    for (pause, delta) in answer.deltas() {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let event = json!({"type": "content_block_delta", "index": 0, "delta": delta});
        write_chunk(write, &sse_frame(&event)).await?;
    }
    let tail = [
        json!({"type": "content_block_stop", "index": 0}),
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": answer.stop_reason(), "stop_sequence": null},
            "usage": {
                "output_tokens": usage.output,
                "server_tool_use": {"web_search_requests": usage.web_search_requests},
            },
        }),
        json!({"type": "message_stop"}),
    ];
    for event in &tail {
        write_chunk(write, &sse_frame(event)).await?;
    }
    write.write_all(b"0\r\n\r\n").await?;
    write.flush().await
}

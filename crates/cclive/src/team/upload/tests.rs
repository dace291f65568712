//! The upload worker against a small in-process team server that follows protocol v1's rules
//! (cursor, idempotent items, 413 above a size) and can be taken down: a backlog drains in
//! growing batches, a 413 halves the batch, an outage loses nothing and is recorded, and the
//! server's cursor is where the agent resumes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cclive_core::team::{CursorReply, ItemBody, PushReply, PushRequest};
use cclive_core::{SessionId, Tokens};
use cclive_store::{Batch, SqliteStore, Store, UsageRow};

use super::*;

#[derive(Default)]
struct Stub {
    cursor: u64,
    usage: BTreeMap<String, u64>,
    sessions: BTreeMap<String, u64>,
    pushes: Vec<usize>,
    /// Answer 503 while true.
    down: bool,
    /// Answer 413 to pushes with more items than this.
    max_items: Option<usize>,
    machine: Option<String>,
    /// Pushes whose connection was closed unread (see [`serve_cutting`]).
    cut: usize,
}

type Shared = Arc<Mutex<Stub>>;

async fn cursor(State(stub): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let stub = stub.lock().unwrap();
    if stub.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(CursorReply {
        machine_id: q.get("machine").cloned().unwrap_or_default(),
        acked_seq: stub.cursor,
    })
    .into_response()
}

async fn push(State(stub): State<Shared>, Json(req): Json<PushRequest>) -> Response {
    let mut stub = stub.lock().unwrap();
    if stub.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if stub.max_items.is_some_and(|max| req.items.len() > max) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    Json(apply(&mut stub, &req)).into_response()
}

/// Applies a push to the stub as protocol v1 says.
fn apply(stub: &mut Stub, req: &PushRequest) -> PushReply {
    stub.machine = Some(req.machine.id.clone());
    stub.pushes.push(req.items.len());
    for item in &req.items {
        match &item.body {
            ItemBody::Usage { usage } => {
                stub.usage
                    .insert(usage.message_id.clone(), usage.tokens.output);
            }
            ItemBody::RetiredUsage { message_id } => {
                stub.usage.remove(message_id);
            }
            ItemBody::Session { session } => {
                let rev = stub.sessions.entry(session.session_id.clone()).or_default();
                *rev = (*rev).max(session.revision);
            }
            ItemBody::Event { .. } => {}
        }
        stub.cursor = stub.cursor.max(item.seq);
    }
    PushReply {
        acked_seq: stub.cursor,
        rejected: Vec::new(),
    }
}

/// Serves the stub over plain HTTP/1.1, one request per connection, on a loopback port; a push
/// whose body is larger than `cut` bytes gets no answer at all: the connection is closed with
/// the body unread (the kernel resets it), as a server that refused it and hung up.
fn serve_cutting(stub: Shared, cut: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let stub = stub.clone();
            std::thread::spawn(move || answer_raw(conn, &stub, cut));
        }
    });
    url
}

fn answer_raw(mut conn: std::net::TcpStream, stub: &Shared, cut: usize) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
    let (mut head, mut line, mut length) = (String::new(), String::new(), 0usize);
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        head.push_str(&line);
    }
    let body = if head.starts_with("GET /api/team/v1/cursor") {
        serde_json::to_string(&CursorReply {
            machine_id: "m".into(),
            acked_seq: stub.lock().unwrap().cursor,
        })
    } else if length > cut {
        stub.lock().unwrap().cut += 1;
        return;
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let req: PushRequest = serde_json::from_slice(&body).unwrap();
        serde_json::to_string(&apply(&mut stub.lock().unwrap(), &req))
    }
    .unwrap();
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Serves the stub on a loopback port of a runtime of its own; returns its URL.
fn serve(stub: Shared) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/api/team/v1/cursor", get(cursor))
                .route("/api/team/v1/push", post(push))
                .with_state(stub);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    url
}

fn usage(i: u64) -> UsageRow {
    UsageRow {
        key: format!("msg_{i}"),
        session_id: SessionId::new("s"),
        at: jiff::Timestamp::from_second(1_795_600_000 + i.cast_signed()).unwrap(),
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            input: 1,
            output: i,
            cache_read: 0,
            cache_creation: 0,
            ..Tokens::default()
        },
        sidechain: false,
    }
}

fn store_with(rows: u64) -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
    store.enable_team_outbox().unwrap();
    store
        .write(&Batch {
            usage: (0..rows).map(usage).collect(),
            ..Batch::default()
        })
        .unwrap();
    (dir, Arc::new(store))
}

fn start(store: &Arc<SqliteStore>, url: String) -> Uploader {
    let machine = MachineInfo {
        id: store.team_agent().unwrap().unwrap().machine_id,
        hostname: "test".into(),
        agent_version: "0".into(),
    };
    Uploader::spawn(
        store.clone(),
        UploadSettings {
            upstream: url,
            token: TeamToken::new("cct_a_b").unwrap(),
            share_prompts: false,
            heartbeat: Duration::from_mins(1),
            retry_cap: Duration::from_millis(200),
        },
        machine,
    )
    .unwrap()
}

/// Polls `done` until it holds, for up to a generous deadline.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drained(store: &SqliteStore) -> bool {
    store.team_agent().unwrap().unwrap().pending == 0
}

#[test]
fn a_backlog_drains_in_growing_batches_and_everything_arrives_once() {
    let (_dir, store) = store_with(12_000);
    let stub = Shared::default();
    let uploader = start(&store, serve(stub.clone()));
    wait_for("the backlog to drain", || drained(&store));
    uploader.stop(Duration::from_secs(5));
    let stub = stub.lock().unwrap();
    assert_eq!(stub.usage.len(), 12_000);
    assert_eq!(stub.usage["msg_11999"], 11_999);
    assert_eq!(stub.pushes[0], FIRST_BATCH);
    assert!(stub.pushes.contains(&MAX_BATCH), "{:?}", stub.pushes);
    assert_eq!(
        stub.pushes.iter().sum::<usize>(),
        12_000,
        "nothing sent twice"
    );
    let state = store.team_agent().unwrap().unwrap();
    assert_eq!(state.acked_seq, stub.cursor);
    assert_eq!(stub.machine.as_deref(), Some(state.machine_id.as_str()));
}

#[test]
fn a_413_halves_the_batch_until_it_fits() {
    let (_dir, store) = store_with(1000);
    let stub = Shared::default();
    stub.lock().unwrap().max_items = Some(100);
    let uploader = start(&store, serve(stub.clone()));
    wait_for("the backlog to drain", || drained(&store));
    uploader.stop(Duration::from_secs(5));
    let stub = stub.lock().unwrap();
    assert_eq!(stub.usage.len(), 1000);
    assert!(stub.pushes.iter().all(|n| *n <= 100), "{:?}", stub.pushes);
}

/// A server that refuses a large body may hang up without reading it: the agent sees a broken
/// pipe or a reset instead of the 413, and must halve all the same (it used to retry the same
/// batch forever).
#[test]
fn a_large_push_the_server_hangs_up_on_is_halved_until_it_fits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
    store.enable_team_outbox().unwrap();
    // Responses with long keys: the first batch's body is about 1.6 MB.
    let long = "k".repeat(3000);
    store
        .write(&Batch {
            usage: (0..1200)
                .map(|i| UsageRow {
                    key: format!("{long}_{i}"),
                    ..usage(i)
                })
                .collect(),
            ..Batch::default()
        })
        .unwrap();
    let store = Arc::new(store);
    let stub = Shared::default();
    let uploader = start(&store, serve_cutting(stub.clone(), LARGE_BODY));
    wait_for("the backlog to drain", || drained(&store));
    uploader.stop(Duration::from_secs(5));
    let stub = stub.lock().unwrap();
    assert_eq!(stub.usage.len(), 1200);
    assert!(stub.cut > 0, "the first push was too large and cut off");
    assert!(
        stub.pushes.iter().all(|n| *n < FIRST_BATCH),
        "{:?}",
        stub.pushes
    );
}

#[test]
fn an_outage_is_recorded_and_loses_nothing() {
    let (_dir, store) = store_with(50);
    let stub = Shared::default();
    stub.lock().unwrap().down = true;
    let uploader = start(&store, serve(stub.clone()));
    wait_for("the error to be recorded", || {
        store.team_agent().unwrap().unwrap().last_error.is_some()
    });
    // More work while the server is down, then it comes back.
    store
        .write(&Batch {
            usage: (50..80).map(usage).collect(),
            ..Batch::default()
        })
        .unwrap();
    uploader.poker().poke();
    stub.lock().unwrap().down = false;
    wait_for("the backlog to drain", || drained(&store));
    let state = store.team_agent().unwrap().unwrap();
    assert_eq!(state.last_error, None, "cleared by the success");
    uploader.stop(Duration::from_secs(5));
    assert_eq!(stub.lock().unwrap().usage.len(), 80);
}

#[test]
fn the_agent_resumes_from_the_servers_cursor_and_a_server_that_lost_data_gets_it_all_again() {
    let (_dir, store) = store_with(100);
    // The server already has the first 60 (the agent died before recording the ack).
    let stub = Shared::default();
    stub.lock().unwrap().cursor = 60;
    let url = serve(stub.clone());
    let uploader = start(&store, url.clone());
    wait_for("the backlog to drain", || drained(&store));
    uploader.stop(Duration::from_secs(5));
    assert_eq!(
        stub.lock().unwrap().usage.len(),
        40,
        "only what the server lacked"
    );

    // The server is restored from an old backup: its cursor is behind what it acknowledged.
    let restored = Shared::default();
    let uploader = start(&store, serve(restored.clone()));
    wait_for("the history to be sent again", || {
        restored.lock().unwrap().usage.len() == 100
    });
    uploader.stop(Duration::from_secs(5));
}

#[test]
fn a_commit_poke_never_blocks_even_when_the_worker_is_busy() {
    let (_dir, store) = store_with(0);
    let stub = Shared::default();
    stub.lock().unwrap().down = true;
    let uploader = start(&store, serve(stub));
    let poke = uploader.poker();
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..10_000 {
            poke.poke();
        }
        let _ = done_tx.send(());
    });
    // A blocking poke would hang here while the worker backs off from the down server.
    assert!(
        done.recv_timeout(Duration::from_mins(1)).is_ok(),
        "pokes blocked on the worker"
    );
    uploader.stop(Duration::from_secs(5));
}

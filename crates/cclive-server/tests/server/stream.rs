//! `/api/stream`: the full state first, then every change; a resync for a client that fell
//! behind; no stale state after a reconnect; streams end when the server stops.

use std::time::{Duration, Instant};

use cclive_core::{Snapshot, Status, UpdateKind};
use cclive_server::{LiveHub, ServerConfig};
use jiff::Timestamp;

use crate::client::EventStream;
use crate::{Server, session, update};

const WAIT: Duration = Duration::from_secs(5);

fn active(id: &str) -> Snapshot {
    crate::live_snapshot(session(id, "2026-11-25T10:00:00Z"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_a_subscribed_client_at_once() {
    let server = Server::start().await;
    server.publish_snapshot(active("a"));
    let mut stream = EventStream::open(server.addr, "/api/stream", &[]).await;
    assert_eq!(stream.status, 200);
    assert!(
        stream
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v == "text/event-stream")
    );
    let first = stream.next(WAIT).await.unwrap();
    assert_eq!(first.event, "snapshot");
    assert_eq!(
        first.retry,
        Some(1000),
        "browsers reconnect within a second"
    );
    assert_eq!(first.json()["status"], "ACTIVE");
    assert_eq!(first.json()["active_sessions"][0]["session_id"], "a");

    let mut delays = Vec::new();
    for turns in 1..=20u64 {
        let mut s = session("a", "2026-11-25T10:00:00Z");
        s.num_turns = turns;
        let sent = Instant::now();
        server.live.publish(&update(UpdateKind::Progress, s));
        let got = stream.next(WAIT).await.unwrap();
        delays.push(sent.elapsed());
        assert_eq!(got.event, "update");
        let v = got.json();
        assert_eq!(v["kind"], "progress");
        assert_eq!(v["session"]["num_turns"], turns);
    }
    delays.sort();
    eprintln!(
        "SSE delay from publish to client over {} changes: p50 {:?}, max {:?}",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
    stream.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_never_starts_from_a_snapshot_older_than_the_last_update() {
    let server = Server::start().await;
    server.publish_snapshot(Snapshot::inactive(Timestamp::now()));
    // The monitor applied an update; its snapshot follows a moment later (the state file's
    // throttle). A client connecting in between must not start from the stale one.
    let mut s = session("late", "2026-11-25T10:00:00Z");
    s.status = Status::Active;
    server.live.publish(&update(UpdateKind::Started, s));
    let snapshot = server.snapshot.clone();
    let publisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut snap = active("late");
        snap.updated_at = Timestamp::now();
        snapshot.send_replace(snap);
    });
    let mut stream = EventStream::open(server.addr, "/api/stream", &[]).await;
    let first = stream.next(WAIT).await.unwrap();
    assert_eq!(first.event, "snapshot");
    assert_eq!(first.json()["status"], "ACTIVE", "{}", first.data);
    publisher.await.unwrap();
    stream.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_that_falls_behind_gets_a_resync_with_the_whole_state() {
    let server = Server::with(ServerConfig::default(), LiveHub::new(2)).await;
    server.publish_snapshot(Snapshot::inactive(Timestamp::now()));
    let mut stream = EventStream::open(server.addr, "/api/stream", &[]).await;
    assert_eq!(stream.next(WAIT).await.unwrap().event, "snapshot");
    // Ten updates while the stream's task cannot run (one thread, no await in between).
    for turns in 1..=10 {
        let mut s = session("busy", "2026-11-25T10:00:00Z");
        s.num_turns = turns;
        server.live.publish(&update(UpdateKind::Progress, s));
    }
    let mut state = active("busy");
    state.active_sessions[0].num_turns = 10;
    server.publish_snapshot(state);
    let got = stream.next(WAIT).await.unwrap();
    assert_eq!(got.event, "resync");
    assert_eq!(got.json()["active_sessions"][0]["num_turns"], 10);
    // What it missed is in the resync; only what comes after follows.
    let mut s = session("busy", "2026-11-25T10:00:00Z");
    s.num_turns = 11;
    server.live.publish(&update(UpdateKind::Progress, s));
    let got = stream.next(WAIT).await.unwrap();
    assert_eq!(got.event, "update");
    assert_eq!(got.json()["session"]["num_turns"], 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_page_gets_only_its_sessions_updates() {
    let server = Server::start().await;
    let mut stream = EventStream::open(server.addr, "/api/stream?session=b", &[]).await;
    assert_eq!(stream.next(WAIT).await.unwrap().event, "snapshot");
    server.live.publish(&update(
        UpdateKind::Progress,
        session("a", "2026-11-25T10:00:00Z"),
    ));
    server.live.publish(&update(
        UpdateKind::Ended,
        session("b", "2026-11-25T10:00:00Z"),
    ));
    let got = stream.next(WAIT).await.unwrap();
    assert_eq!(got.json()["session"]["session_id"], "b");
    assert_eq!(got.json()["kind"], "ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_alert_reaches_every_stream_but_a_session_pages() {
    let server = Server::start().await;
    let mut all = EventStream::open(server.addr, "/api/stream", &[]).await;
    let mut one = EventStream::open(server.addr, "/api/stream?session=a", &[]).await;
    assert_eq!(all.next(WAIT).await.unwrap().event, "snapshot");
    assert_eq!(one.next(WAIT).await.unwrap().event, "snapshot");
    let at: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
    server
        .live
        .publish_budget_alert(&cclive_core::budget::BudgetAlert {
            project: None,
            period: cclive_core::budget::Period::Day,
            period_key: "2026-11-25".into(),
            period_start: at,
            period_end: at,
            threshold_percent: 80,
            limit_usd: 10.0,
            spent_usd: 8.5,
            percent: 85.0,
            projected_usd: 12.0,
            at,
        });
    let got = all.next(WAIT).await.unwrap();
    assert_eq!(got.event, "budget");
    assert_eq!(got.json()["threshold_percent"], 80);
    assert_eq!(got.json()["spent_usd"], 8.5);
    // The session page's stream gets the session's next update, not the alert.
    server.live.publish(&update(
        UpdateKind::Progress,
        session("a", "2026-11-25T10:00:00Z"),
    ));
    assert_eq!(one.next(WAIT).await.unwrap().event, "update");
    assert_eq!(all.next(WAIT).await.unwrap().event, "update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_end_when_the_server_stops_and_do_not_hold_it_up() {
    let server = Server::start().await;
    let addr = server.addr;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = EventStream::open(addr, "/api/stream", &[]).await;
        assert_eq!(s.next(WAIT).await.unwrap().event, "snapshot");
        streams.push(s);
    }
    assert_eq!(server.live.subscribers(), 3);
    let started = Instant::now();
    let result = tokio::time::timeout(WAIT, server.shutdown()).await;
    assert!(result.expect("the server stopped").is_ok());
    eprintln!("shutdown with 3 open streams took {:?}", started.elapsed());
    for mut s in streams {
        assert!(s.next(WAIT).await.is_none(), "the stream ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_without_subscribers_costs_nothing_and_is_not_replayed() {
    let server = Server::start().await;
    server.live.publish(&update(
        UpdateKind::Progress,
        session("gone", "2026-11-25T10:00:00Z"),
    ));
    server.publish_snapshot(Snapshot::inactive(Timestamp::now()));
    let mut stream = EventStream::open(server.addr, "/api/stream", &[]).await;
    assert_eq!(stream.next(WAIT).await.unwrap().event, "snapshot");
    stream.assert_quiet(Duration::from_millis(200)).await;
}

/// A server whose keep-alive connections may idle `idle` between requests.
async fn server_idling(idle: Duration) -> Server {
    let config = ServerConfig {
        idle_timeout: idle,
        ..ServerConfig::default()
    };
    Server::with(config, LiveHub::default()).await
}

/// A keep-alive connection that asked for `/healthz` once and read the whole answer.
async fn served_once(server: &Server) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The answer is small and has a Content-Length; its JSON ends the body.
    while !got.ends_with(b"}") {
        let n = tokio::time::timeout(WAIT, conn.read(&mut buf))
            .await
            .expect("the answer comes")
            .unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("connection: close"));
    conn
}

/// Waits (up to `deadline`) for the server to close `conn`; false if it is still open then.
async fn closed_within(conn: &mut tokio::net::TcpStream, deadline: Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(deadline, conn.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(n)) => panic!("unexpected bytes on an idle connection: {:?}", &buf[..n]),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = server_idling(Duration::from_millis(300)).await;
    let mut conn = served_once(&server).await;
    assert!(
        closed_within(&mut conn, Duration::from_secs(20)).await,
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_outlives_the_idle_timeout() {
    let server = server_idling(Duration::from_millis(300)).await;
    server.publish_snapshot(active("a"));
    let mut stream = EventStream::open(server.addr, "/api/stream", &[]).await;
    assert_eq!(stream.next(WAIT).await.unwrap().event, "snapshot");
    // An idle connection opened after the stream is closed: the idle timeout has passed for
    // the stream too.
    let mut idle = served_once(&server).await;
    assert!(closed_within(&mut idle, Duration::from_secs(20)).await);
    let mut s = session("a", "2026-11-25T10:00:00Z");
    s.num_turns = 7;
    server.live.publish(&update(UpdateKind::Progress, s));
    let got = stream.next(WAIT).await.expect("the stream is still open");
    assert_eq!(got.event, "update");
    assert_eq!(got.json()["session"]["num_turns"], 7);
}

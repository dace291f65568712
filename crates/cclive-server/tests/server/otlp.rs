//! OTLP/HTTP intake: Claude Code's telemetry exports (fixtures trimmed from the real CLI's)
//! become events, answered as OTLP/HTTP says; bad bodies and encodings are refused clearly.

use std::net::IpAddr;

use cclive_core::EventKind;
use cclive_server::{Access, LiveHub, ServerConfig, Token};

use crate::Server;
use crate::client::{Response, request, request_raw};

const TOKEN: &str = "otlp-test-token-0123456789";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../cclive-core/tests/fixtures/otel/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `POST path` with a body of `content_type`.
async fn post(server: &Server, path: &str, content_type: &str, body: &[u8]) -> Response {
    request(
        server.addr,
        "POST",
        path,
        &[("Content-Type", content_type)],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn json_logs_become_events_and_get_an_empty_json_answer() {
    let server = Server::start().await;
    let r = post(
        &server,
        "/v1/logs",
        "application/json",
        &fixture("logs-2.1.332.json"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), "{}");
    let events = server.received().await;
    assert!(matches!(
        &events[0].kind,
        EventKind::SessionStarted {
            source: cclive_core::Source::Otel,
            ..
        }
    ));
    let usage = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Usage { .. }))
        .count();
    assert_eq!(usage, 3);
    assert!(
        events.iter().all(|e| match &e.kind {
            EventKind::Origin { host, .. } => host.is_none(),
            _ => true,
        }),
        "a loopback sender is this machine: no host"
    );
}

#[tokio::test]
async fn protobuf_logs_and_json_metrics_are_read_too() {
    let server = Server::start().await;
    let r = post(
        &server,
        "/v1/logs",
        "application/x-protobuf",
        &fixture("logs-2.1.332.pb"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert!(r.body.is_empty(), "an empty ExportLogsServiceResponse");
    let r = post(
        &server,
        "/v1/metrics",
        "application/json",
        &fixture("metrics-2.1.332.json"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = server.received().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Usage { .. }))
            .count(),
        3
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::LinesChanged { added: 2, .. }))
    );
}

#[tokio::test]
async fn bad_bodies_and_encodings_are_refused_with_what_to_do() {
    let server = Server::start().await;
    let r = post(
        &server,
        "/v1/logs",
        "application/json",
        b"{\"resourceLogs\": 5",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("OTLP"));
    let r = post(&server, "/v1/metrics", "text/plain", b"hello").await;
    assert_eq!(r.status, 415);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf")
    );
    let r = request(
        server.addr,
        "POST",
        "/v1/logs",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        Some(b"\x1f\x8b"),
    )
    .await;
    assert_eq!(r.status, 415);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("OTEL_EXPORTER_OTLP_COMPRESSION=none")
    );
    assert!(server.received().await.is_empty(), "nothing half-applied");
}

#[tokio::test]
async fn with_a_token_even_this_machines_exporter_needs_it() {
    let config = ServerConfig {
        access: Access::new(
            "127.0.0.1",
            IpAddr::from([127, 0, 0, 1]),
            Some(Token::new(TOKEN).unwrap()),
        ),
        ..ServerConfig::default()
    };
    let server = Server::with(config, LiveHub::default()).await;
    let body = fixture("logs-2.1.332.json");
    let json = ("Content-Type", "application/json");
    for path in ["/v1/logs", "/v1/metrics"] {
        let r = request(server.addr, "POST", path, &[json], Some(&body)).await;
        assert_eq!(
            r.status, 401,
            "{path}: a loopback exporter without the token"
        );
    }
    let r = request(
        server.addr,
        "POST",
        "/v1/logs",
        &[json, ("Authorization", "Bearer wrong-token-000000000")],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 401);
    let bearer = format!("Bearer {TOKEN}");
    let r = request(
        server.addr,
        "POST",
        "/v1/metrics",
        &[json, ("Authorization", &bearer)],
        Some(&fixture("metrics-2.1.332.json")),
    )
    .await;
    assert_eq!(r.status, 200, "what OTEL_EXPORTER_OTLP_HEADERS sends");
}

#[tokio::test]
async fn a_chunked_body_without_a_length_is_read_as_claude_code_1_0_sends_it() {
    let server = Server::start().await;
    let body = fixture("logs-1.0.100.json");
    let mut raw = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = request_raw(server.addr, &raw).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let usage = server
        .received()
        .await
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Usage { .. }))
        .count();
    assert_eq!(usage, 4, "every request of the 1.0 export");
}

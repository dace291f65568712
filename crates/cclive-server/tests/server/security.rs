//! The access rules: Host (DNS rebinding), Origin (cross-site POSTs), and the token.

use std::net::IpAddr;

use cclive_server::{Access, LiveHub, ServerConfig, Token};
use serde_json::json;

use crate::Server;
use crate::client::request;

const TOKEN: &str = "s3cret-token-0123456789";

fn hook_payload() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "session_id": "h1",
        "cwd": "/w",
        "hook_event_name": "Stop"
    }))
    .unwrap()
}

fn event() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "session_id": "w1",
        "at": "2026-11-25T10:00:00Z",
        "type": "title",
        "title": "t"
    }))
    .unwrap()
}

#[tokio::test]
async fn a_foreign_host_is_refused_everywhere_dns_rebinding() {
    let server = Server::start().await;
    let port = server.addr.port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.2:{port}"),
        String::new(),
    ] {
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/api/current-session"),
            ("GET", "/api/stream"),
            ("GET", "/healthz"),
            ("POST", "/api/hooks"),
        ] {
            let body = (method == "POST").then(hook_payload);
            let r = request(
                server.addr,
                method,
                path,
                &[("Host", &host)],
                body.as_deref(),
            )
            .await;
            assert_eq!(r.status, 403, "{method} {path} with Host {host:?}");
            assert!(r.json()["error"].as_str().unwrap().contains("forbidden"));
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        let r = request(server.addr, "GET", "/healthz", &[("Host", &host)], None).await;
        assert_eq!(r.status, 200, "Host {host:?}");
    }
    assert!(server.received().await.is_empty());
}

#[tokio::test]
async fn a_server_bound_to_a_name_answers_to_it() {
    let config = ServerConfig {
        access: Access::new("devbox.lan", IpAddr::from([127, 0, 0, 1]), None),
        ..ServerConfig::default()
    };
    let server = Server::with(config, LiveHub::default()).await;
    let port = server.addr.port();
    let r = request(
        server.addr,
        "GET",
        "/healthz",
        &[("Host", &format!("devbox.lan:{port}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = request(
        server.addr,
        "GET",
        "/healthz",
        &[("Host", &format!("other.lan:{port}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn posts_from_another_origin_are_refused() {
    let server = Server::start().await;
    let own = format!("http://{}", server.addr);
    for (path, body) in [
        ("/api/session/webhook", event()),
        ("/api/events", event()),
        ("/api/hooks", hook_payload()),
    ] {
        for (header, value) in [
            ("Origin", "http://evil.example"),
            ("Origin", "null"),
            ("Origin", "http://localhost:1"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Site", "same-site"),
        ] {
            let r = request(
                server.addr,
                "POST",
                path,
                &[("Content-Type", "application/json"), (header, value)],
                Some(&body),
            )
            .await;
            assert_eq!(r.status, 403, "{path} with {header}: {value}");
        }
        // The page's own origin, and clients that send none (curl, hooks), are fine.
        for headers in [
            vec![
                ("Content-Type", "application/json"),
                ("Origin", own.as_str()),
            ],
            vec![
                ("Content-Type", "application/json"),
                ("Origin", own.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            vec![("Content-Type", "application/json")],
        ] {
            let r = request(server.addr, "POST", path, &headers, Some(&body)).await;
            assert!(
                r.status < 300,
                "{path} {headers:?}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    let taken = server.received().await;
    assert_eq!(
        taken
            .iter()
            .filter(|e| e.session_id.as_str() == "w1")
            .count(),
        6,
        "only the same-origin and origin-less posts"
    );
}

async fn token_server() -> Server {
    let config = ServerConfig {
        access: Access::new(
            "127.0.0.1",
            IpAddr::from([127, 0, 0, 1]),
            Some(Token::new(TOKEN).unwrap()),
        ),
        ..ServerConfig::default()
    };
    Server::with(config, LiveHub::default()).await
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let server = token_server().await;
    let bearer = format!("Bearer {TOKEN}");
    let cookie = format!("theme=dark; cclive_token={TOKEN}");
    for path in [
        "/",
        "/healthz",
        "/api/current-session",
        "/api/sessions",
        "/api/summary",
        "/api/openapi.json",
        "/assets/app.css",
    ] {
        let r = request(server.addr, "GET", path, &[], None).await;
        assert_eq!(r.status, 401, "{path} without the token");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"cclive\"")
        );
        assert!(r.json()["error"].as_str().unwrap().contains("cclive"));
        let r = request(
            server.addr,
            "GET",
            path,
            &[("Authorization", "Bearer nope")],
            None,
        )
        .await;
        assert_eq!(r.status, 401, "{path} with a wrong token");
        let r = request(
            server.addr,
            "GET",
            path,
            &[("Authorization", &bearer)],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{path} with the bearer token");
        let r = request(server.addr, "GET", path, &[("Cookie", &cookie)], None).await;
        assert_eq!(r.status, 200, "{path} with the cookie");
    }
    let r = request(
        server.addr,
        "GET",
        &format!("/api/sessions?token={TOKEN}&limit=5"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "?token= on the API");
    assert_eq!(r.json()["limit"], 5);
    // The webhook is for other tools: it needs the token even from this machine.
    let r = request(
        server.addr,
        "POST",
        "/api/session/webhook",
        &[("Content-Type", "application/json")],
        Some(&event()),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = request(
        server.addr,
        "POST",
        "/api/session/webhook",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &bearer),
        ],
        Some(&event()),
    )
    .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn a_page_opened_with_the_token_keeps_it_in_a_cookie_and_drops_it_from_the_address() {
    let server = token_server().await;
    let r = request(
        server.addr,
        "GET",
        &format!("/sessions/abc?token={TOKEN}&x=1"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/sessions/abc?x=1"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!("cclive_token={TOKEN};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let r = request(server.addr, "GET", "/?token=wrong-token-0000000", &[], None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn with_a_token_intake_from_this_machine_needs_it_too() {
    // Behind a reverse proxy on the same host every request is a loopback one.
    let server = token_server().await;
    let r = request(
        server.addr,
        "POST",
        "/api/hooks",
        &[],
        Some(&hook_payload()),
    )
    .await;
    assert_eq!(r.status, 401, "a loopback hook without the token");
    let r = request(
        server.addr,
        "POST",
        "/api/events",
        &[("Content-Type", "application/json")],
        Some(&event()),
    )
    .await;
    assert_eq!(r.status, 401, "`cclive run` without the token");
    let r = request(
        server.addr,
        "POST",
        "/api/events",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
        Some(&event()),
    )
    .await;
    assert_eq!(r.status, 202, "`cclive run` with the token");
    let r = request(
        server.addr,
        "POST",
        "/api/hooks",
        &[("Authorization", "Bearer wrong")],
        Some(&hook_payload()),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = request(
        server.addr,
        "POST",
        "/api/hooks",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        Some(&hook_payload()),
    )
    .await;
    assert_eq!(
        r.status, 204,
        "what a remote http hook sends with `headers`"
    );
    // Every other route too, reading or writing (the ones above answer 200 with it).
    for (method, path) in [
        ("GET", "/api/stream"),
        ("GET", "/api/costs"),
        ("GET", "/api/limits"),
        ("GET", "/api/budget"),
        ("GET", "/api/integrations"),
        ("GET", "/api/sessions/abc/events"),
        ("GET", "/metrics"),
        ("GET", "/calendar.ics"),
        ("GET", "/sessions/abc"),
        ("GET", "/favicon.ico"),
        ("GET", "/no-such-page"),
        ("POST", "/api/session/webhook"),
        ("POST", "/v1/logs"),
        ("POST", "/v1/metrics"),
    ] {
        let body = (method == "POST").then(event);
        let r = request(server.addr, method, path, &[], body.as_deref()).await;
        assert_eq!(
            r.status, 401,
            "{method} {path} from loopback without the token"
        );
    }
    // A foreign Origin is refused before the token is looked at.
    let r = request(
        server.addr,
        "POST",
        "/api/hooks",
        &[("Origin", "http://evil.example")],
        Some(&hook_payload()),
    )
    .await;
    assert_eq!(r.status, 403);
}

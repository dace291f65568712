//! The dashboard's files, embedded in the binary: plain HTML, CSS and hand-written JS under
//! `crates/cclive-server/assets/`, no build step, no CDN, no request to anywhere but this
//! server (it works offline).
//!
//! Pages are sent with a strict Content-Security-Policy (scripts, styles and connections only
//! from this origin; no inline script or style; never in a frame). Each file has an `ETag`
//! (a hash of its bytes) and `Cache-Control: no-cache`, so a browser revalidates cheaply and a
//! new binary's files are never served stale. The page learns the fallback refresh interval
//! from a `<meta>` tag filled in when the server starts.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../assets/index.html");
const SESSION_HTML: &str = include_str!("../assets/session.html");
const TEAM_HTML: &str = include_str!("../assets/team.html");
const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// `(name, content type, bytes)` of every file under `/assets/`.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/common.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/dashboard.js"),
    ),
    (
        "team.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/team.js"),
    ),
    (
        "session.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/session.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../assets/favicon.svg"),
    ),
];

/// The two pages, with the refresh interval filled in.
pub(crate) struct Pages {
    dashboard: Page,
    session: Page,
}

struct Page {
    html: String,
    etag: String,
}

impl Pages {
    pub(crate) fn new(refresh: Duration) -> Self {
        let fill = |html: &str| {
            let html = html.replace("{{REFRESH_MS}}", &refresh.as_millis().to_string());
            let etag = etag(&html);
            Page { html, etag }
        };
        Pages {
            dashboard: fill(INDEX_HTML),
            session: fill(SESSION_HTML),
        }
    }
}

/// FNV-1a of the bytes, as a quoted strong ETag.
fn etag(bytes: &str) -> String {
    let hash = bytes.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

fn respond(
    request: &HeaderMap,
    content_type: &'static str,
    body: String,
    etag: &str,
    page: bool,
) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    response
}

pub(crate) async fn dashboard_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = &state.inner.pages.dashboard;
    respond(
        &headers,
        "text/html; charset=utf-8",
        page.html.clone(),
        &page.etag,
        true,
    )
}

/// The team server's page (`cclive server`): no per-server values to fill in.
pub(crate) async fn team_page(headers: HeaderMap) -> Response {
    respond(
        &headers,
        "text/html; charset=utf-8",
        TEAM_HTML.to_owned(),
        &etag(TEAM_HTML),
        true,
    )
}

pub(crate) async fn session_page(
    State(state): State<AppState>,
    Path(_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let page = &state.inner.pages.session;
    respond(
        &headers,
        "text/html; charset=utf-8",
        page.html.clone(),
        &page.etag,
        true,
    )
}

pub(crate) async fn asset(
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::NotFound(format!("no asset {name:?}")))?;
    Ok(respond(
        &headers,
        content_type,
        (*body).to_owned(),
        &etag(body),
        false,
    ))
}

pub(crate) async fn favicon(headers: HeaderMap) -> Result<Response, ApiError> {
    asset(Path("favicon.svg".to_owned()), headers).await
}

pub(crate) async fn openapi(headers: HeaderMap) -> Response {
    respond(
        &headers,
        "application/json",
        OPENAPI_JSON.to_owned(),
        &etag(OPENAPI_JSON),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_is_json_and_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for path in crate::routes::API_PATHS {
            assert!(paths.contains_key(*path), "{path} is not documented");
        }
        for path in paths.keys() {
            assert!(
                crate::routes::API_PATHS.contains(&path.as_str()),
                "{path} is documented but not routed"
            );
        }
    }

    #[test]
    fn pages_load_only_our_own_files() {
        for html in [INDEX_HTML, SESSION_HTML, TEAM_HTML] {
            for needle in ["http://", "https://", "<script>", " style=", "onclick="] {
                assert!(!html.contains(needle), "{needle} in a page");
            }
            for (name, _, _) in FILES.iter().filter(|(n, _, _)| n.contains(".js")) {
                if html.contains(name) {
                    assert!(html.contains(&format!("src=\"/assets/{name}\"")));
                }
            }
        }
        for (name, _, body) in FILES {
            // The SVG namespace is a name, not a request.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            assert!(!body.contains("http://"), "{name} names an external URL");
            assert!(!body.contains("https://"), "{name} names an external URL");
            assert!(!body.contains("//cdn"), "{name} names a CDN");
        }
    }

    #[test]
    fn the_refresh_interval_is_filled_in() {
        let pages = Pages::new(Duration::from_millis(2500));
        assert!(pages.dashboard.html.contains("content=\"2500\""));
        assert!(!pages.dashboard.html.contains("{{"));
    }
}

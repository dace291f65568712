//! Who may talk to the server: the checks every request passes before any handler runs.
//!
//! - **Host** (DNS rebinding): the `Host` header must name the server as its user reaches it —
//!   the bound name, `localhost`, `127.0.0.1` or `[::1]` (any port). A server bound to every
//!   interface (`0.0.0.0`, `[::]`) also accepts any IP literal, since the machine's addresses are
//!   not known here; a foreign *name* is still refused, which is what a rebinding attack uses.
//! - **Origin** (cross-site requests): a POST from a browser must come from the dashboard's own
//!   origin. Requests without an `Origin` (curl, Claude Code's http hooks, `cclive hook`) pass.
//! - **Token**: when the server has one (required off loopback), every request must carry it:
//!   `Authorization: Bearer <token>`, the `cclive_token` cookie, or `?token=` (a page opened
//!   with `?token=` gets the cookie and is redirected to the same page without it, so the token
//!   leaves the address bar and the page's own requests and live stream carry the cookie).
//!   There is no exception, loopback included: behind a reverse proxy on the same host every
//!   request looks local. So this machine's senders carry it too: `cclive hook`, `cclive run`,
//!   the status line and `cclive top` read it from `CCLIVE_TOKEN`; `cclive hooks install` writes
//!   it into Claude Code's `settings.json` (`env.CCLIVE_TOKEN`, which http hooks send as
//!   `"headers": {"Authorization": "Bearer $CCLIVE_TOKEN"}` with
//!   `"allowedEnvVars": ["CCLIVE_TOKEN"]`, and with `--telemetry`
//!   `OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>"`). A wrong token is refused.
//!
//! Every response also gets `nosniff`, `no-referrer` and "never in a frame" headers.

use std::fmt;
use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// The cookie a browser keeps the token in.
const COOKIE: &str = "cclive_token";
/// Read by programs (Prometheus, calendar apps), not browsers: `?token=` is answered directly,
/// without the cookie-setting redirect pages get.
const MACHINE_READ: &[&str] = &["/metrics", "/calendar.ics"];

/// A shared secret every request must carry. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Too short to be a secret.
    #[error("the token must be at least {min} characters long")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// A character that cannot travel in a header or a cookie unchanged.
    #[error("the token may only contain letters, digits and . _ ~ + / = -")]
    BadCharacter,
}

impl Token {
    /// The shortest token accepted.
    pub const MIN_LEN: usize = 16;

    /// Checks and wraps a token.
    pub fn new(token: &str) -> Result<Token, TokenError> {
        if token.len() < Self::MIN_LEN {
            return Err(TokenError::TooShort { min: Self::MIN_LEN });
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
        {
            return Err(TokenError::BadCharacter);
        }
        Ok(Token(token.to_owned()))
    }

    /// The secret itself, for the one place that must hand it on (the address a browser is
    /// opened with). Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// The Host names the server answers to, and its token.
#[derive(Clone, Debug)]
pub struct Access {
    /// Lower-case host names without port (IPv6 in brackets).
    hosts: Vec<String>,
    /// Bound to every interface: any IP literal is a valid Host.
    any_ip: bool,
    token: Option<Token>,
}

impl Access {
    /// A loopback server without a token (what tests and `cclive watch` use).
    pub fn loopback() -> Access {
        Access::new("127.0.0.1", IpAddr::from([127, 0, 0, 1]), None)
    }

    /// A server bound to `ip`, which its user named `bind_name` (a name or the address itself).
    pub fn new(bind_name: &str, ip: IpAddr, token: Option<Token>) -> Access {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        for name in [normalize_host(bind_name), ip_host(ip)] {
            if !hosts.contains(&name) {
                hosts.push(name);
            }
        }
        Access {
            hosts,
            any_ip: ip.is_unspecified(),
            token,
        }
    }

    /// Also answers to `name` (a public host name, e.g. behind a reverse proxy).
    #[must_use]
    pub fn with_host(mut self, name: &str) -> Access {
        let name = normalize_host(strip_port(name));
        if !name.is_empty() && !self.hosts.contains(&name) {
            self.hosts.push(name);
        }
        self
    }

    /// The token, if the server has one.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Whether a `Host` header value names this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = normalize_host(strip_port(host));
        self.hosts.contains(&name) || (self.any_ip && parse_ip_host(&name).is_some())
    }
}

/// `name` as compared: lower case, no trailing dot, IPv6 literals in brackets.
fn normalize_host(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    match name.parse::<IpAddr>() {
        Ok(ip) => ip_host(ip),
        Err(_) => name,
    }
}

fn ip_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn parse_ip_host(name: &str) -> Option<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse().ok()
}

/// `host[:port]` → `host` (`[v6]:port` → `[v6]`).
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The middleware: Host, then Origin, then the token; then the handler; then the headers every
/// response carries.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let access = &state.inner.config.access;
    let mut response = match check(access, &req) {
        Err(refusal) => refusal.into_response(),
        Ok(Pass::Redirect(response)) => *response,
        Ok(Pass::Go) => next.run(req).await,
    };
    secure_headers(&mut response);
    response
}

/// The headers every response carries: no sniffing, no referrer, never in a frame.
pub(crate) fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

enum Pass {
    Go,
    /// A page opened with `?token=`: set the cookie, drop the token from the address.
    Redirect(Box<Response>),
}

fn check(access: &Access, req: &Request) -> Result<Pass, ApiError> {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::Forbidden("the request has no Host header".into()))?;
    if !access.host_allowed(host) {
        return Err(ApiError::Forbidden(format!(
            "this server does not answer to the host {host:?}"
        )));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        check_origin(headers, host)?;
    }
    let Some(token) = access.token() else {
        return Ok(Pass::Go);
    };
    let path = req.uri().path();
    if let Some(presented) = header_token(headers) {
        return if token.matches(presented) {
            Ok(Pass::Go)
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    if let Some(presented) = query_token(req.uri().query()) {
        if !token.matches(presented) {
            return Err(ApiError::Unauthorized);
        }
        if req.method() == Method::GET
            && !path.starts_with("/api/")
            && !MACHINE_READ.contains(&path)
        {
            return Ok(Pass::Redirect(Box::new(redirect_with_cookie(
                path,
                req.uri().query(),
                presented,
            ))));
        }
        return Ok(Pass::Go);
    }
    Err(ApiError::Unauthorized)
}

/// A POST from a browser must come from the page's own origin.
pub(crate) fn check_origin(headers: &HeaderMap, host: &str) -> Result<(), ApiError> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(ApiError::Forbidden(format!(
            "cross-site requests are refused (Sec-Fetch-Site: {site})"
        )));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match authority {
        Some(authority) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(ApiError::Forbidden(format!(
            "requests from the origin {origin:?} are refused"
        ))),
    }
}

/// The token of an `Authorization: Bearer` header or the cookie.
pub(crate) fn header_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == COOKIE).then_some(value)
            })
    })
}

pub(crate) fn query_token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

pub(crate) fn redirect_with_cookie(path: &str, query: Option<&str>, token: &str) -> Response {
    let rest: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect();
    let location = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // Both are built from checked characters (the path is what the server routed).
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        headers.insert(header::SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_a_loopback_server() {
        let a = Access::loopback();
        for ok in [
            "127.0.0.1:8501",
            "localhost",
            "LOCALHOST:1",
            "localhost.:8501",
            "[::1]:8501",
            "[::1]",
        ] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8501",
            "127.0.0.2:8501",
            "localhost.evil.example",
            "",
            "[::2]:8501",
            "10.0.0.1",
        ] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_of_a_server_bound_by_name_or_to_every_interface() {
        let token = Token::new("0123456789abcdef").ok();
        let named = Access::new("Devbox.lan", IpAddr::from([192, 168, 1, 5]), token.clone());
        assert!(named.host_allowed("devbox.lan:8501"));
        assert!(named.host_allowed("192.168.1.5:8501"));
        assert!(!named.host_allowed("10.1.1.1:8501"));
        let any = Access::new("0.0.0.0", IpAddr::from([0, 0, 0, 0]), token);
        assert!(any.host_allowed("10.1.1.1:8501"));
        assert!(any.host_allowed("[fe80::1]:8501"));
        assert!(!any.host_allowed("rebound.example:8501"));
    }

    #[test]
    fn tokens_are_long_plain_and_hidden() {
        assert_eq!(
            Token::new("short"),
            Err(TokenError::TooShort {
                min: Token::MIN_LEN
            })
        );
        assert_eq!(
            Token::new("0123456789abcdef;x"),
            Err(TokenError::BadCharacter)
        );
        let t = Token::new("0123456789abcdef").unwrap();
        assert!(t.matches("0123456789abcdef"));
        assert!(!t.matches("0123456789abcdeF"));
        assert!(!t.matches("0123456789abcde"));
        assert_eq!(format!("{t:?}"), "Token(<hidden>)");
    }

    #[test]
    fn ports_are_stripped_from_authorities() {
        assert_eq!(strip_port("a:1"), "a");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("a"), "a");
        assert_eq!(strip_port("a:b"), "a:b");
    }
}

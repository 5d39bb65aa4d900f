//! What every request must pass before a handler sees it:
//! - the Host header names this server (a DNS-rebinding page sends its own name there);
//! - an Origin header, when a browser sends one, is this server's own;
//! - a body is JSON (a form or text/plain POST is what a web page can send anywhere without asking);
//! - the bearer token matches, except for the liveness and readiness checks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::token;
use wamcp_api::http::ApiError;

/// Paths anyone on the machine may ask without the token.
/// They say whether the daemon runs and is connected, nothing else.
const OPEN_PATHS: &[&str] = &["/api/health", "/api/ready"];

pub struct Guard {
    token: String,
    /// Host header values accepted, lower case, with port.
    hosts: Vec<String>,
}

impl Guard {
    pub fn new(token: String, listen: SocketAddr, extra_hosts: &[String]) -> Guard {
        let port = listen.port();
        let mut hosts = vec![format!("{listen}")];
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            hosts.extend([format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")]);
        }
        hosts.extend(extra_hosts.iter().map(|host| host.to_ascii_lowercase()));
        Guard { token, hosts }
    }

    /// The Host header values accepted.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The API token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The Host header names this server, and a browser's Origin is this server.
    fn check_host(&self, request: &Request) -> Result<(), ApiError> {
        let headers = request.headers();
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("Host '{host}' is not this server; use one of: {}", self.hosts.join(", ")),
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            let own = self.hosts.iter().any(|host| origin == format!("http://{host}"));
            if !own {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("requests from origin '{origin}' are refused"),
                ));
            }
        }
        Ok(())
    }

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        self.check_host(request)?;
        let headers = request.headers();
        if matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH) {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or("");
            let is_json =
                content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("the body must be JSON (Content-Type: application/json), not '{content_type}'"),
                ));
            }
        }
        if OPEN_PATHS.contains(&request.uri().path()) {
            return Ok(());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        if !token::matches(given.trim(), &self.token) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send 'Authorization: Bearer <token>' with the token from <data dir>/api-token",
            ));
        }
        Ok(())
    }
}

/// The middleware for routes that authenticate callers themselves: Host and Origin only.
pub async fn host_guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.check_host(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// The middleware: refuses a request that fails the guard.
pub async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.check(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

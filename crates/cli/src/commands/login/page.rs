//! The local pairing page: the current QR code as SVG, reloading itself every few seconds so a
//! rotated code shows up. Bound to localhost and read-only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

#[derive(Clone, Default)]
pub struct PageState {
    svg: Arc<Mutex<Option<String>>>,
    /// What stands in the way of a code (WhatsApp out of reach), shown instead of "waiting".
    problem: Arc<Mutex<Option<String>>>,
}

impl PageState {
    pub fn set(&self, svg: String) {
        *self.svg.lock().unwrap_or_else(|p| p.into_inner()) = Some(svg);
    }

    pub fn problem(&self, why: String) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    pub fn clear_problem(&self) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

pub struct Page {
    pub state: PageState,
}

/// Starts the page; `None` (with a note) if the address is taken.
pub async fn serve(addr: SocketAddr) -> Option<Page> {
    let state = PageState::default();
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("(no pairing page: cannot listen on {addr}: {e}; use --pair-page to pick another address)");
            return None;
        }
    };
    let app = Router::new().route("/pair", get(pair)).with_state(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some(Page { state })
}

async fn pair(State(state): State<PageState>) -> Html<String> {
    let svg = state.svg.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let problem = state.problem.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let body = match (svg, problem) {
        (Some(svg), _) => svg,
        (None, Some(problem)) => format!("<p><strong>{}</strong></p>", wamcp_core::html::escape(&problem)),
        (None, None) => "<p>Waiting for WhatsApp to offer a code…</p>".to_string(),
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>Link wamcp to WhatsApp</title></head><body style=\"font-family:sans-serif;text-align:center\">\
         <h1>Link wamcp to WhatsApp</h1><p>On your phone: WhatsApp &gt; Settings &gt; Linked devices &gt; Link a \
         device, then scan:</p>{body}</body></html>"
    ))
}

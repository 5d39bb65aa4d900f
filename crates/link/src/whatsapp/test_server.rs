//! Pointing the client at a local WhatsApp server, for the end-to-end tests (fakewa). Compiled
//! only with the `test-server` feature, which also lets the client accept the local server's
//! certificate (`danger-skip-cert-chain-verify`): a release build has neither, and ignores
//! [`SERVER_ENV`].
//!
//! With `WAMCP_TEST_SERVER=ws://127.0.0.1:PORT/ws/chat` the client connects there instead of
//! `web.whatsapp.com`, with a fixed version (nothing fetches WhatsApp's `sw.js`), and its HTTP
//! (media upload and download) reaches hosts on the loopback over plain HTTP.

use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::net::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust_tokio_transport::TokioWebSocketTransportFactory;
use whatsapp_rust_ureq_http_client::UreqHttpClient;

/// The variable naming the local server's WebSocket URL.
pub const SERVER_ENV: &str = "WAMCP_TEST_SERVER";

/// The client version the local server is told.
pub const VERSION: (u32, u32, u32) = (2, 3000, 1_030_000_000);

/// The local server's URL, when the tests set one.
pub fn url() -> Option<String> {
    std::env::var(SERVER_ENV)
        .ok()
        .filter(|url| url.starts_with("ws://127.0.0.1:") || url.starts_with("ws://localhost:"))
}

pub fn transport(url: &str) -> TokioWebSocketTransportFactory {
    TokioWebSocketTransportFactory::new().with_url(url)
}

/// HTTP as the library asks for it, with `https://` to a loopback host sent as plain HTTP (the
/// local media host has no certificate); anything else is refused.
pub struct LoopbackHttp(UreqHttpClient);

impl LoopbackHttp {
    pub fn new() -> LoopbackHttp {
        LoopbackHttp(UreqHttpClient::new())
    }
}

impl Default for LoopbackHttp {
    fn default() -> LoopbackHttp {
        LoopbackHttp::new()
    }
}

#[async_trait]
impl HttpClient for LoopbackHttp {
    async fn execute(&self, mut request: HttpRequest) -> whatsapp_rust::anyhow::Result<HttpResponse> {
        let local = ["https://127.0.0.1:", "https://localhost:", "http://127.0.0.1:", "http://localhost:"];
        if !local.iter().any(|prefix| request.url.starts_with(prefix)) {
            whatsapp_rust::anyhow::bail!("the test build reaches only the local server, not {}", request.url);
        }
        if let Some(rest) = request.url.strip_prefix("https://") {
            request.url = format!("http://{rest}");
        }
        self.0.execute(request).await
    }
}

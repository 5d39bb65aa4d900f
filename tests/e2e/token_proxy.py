"""A local HTTP proxy that adds the daemon's bearer token to every request.

The official MCP conformance suite has no way to send an Authorization header; this proxy stands
in for a client that holds the token. It forwards the request as it came (Host and Origin
included, so the daemon's own Host/Origin checks are what the suite sees) and streams the answer
back as it arrives (MCP answers may be server-sent event streams)."""

import contextlib
import http.client
import http.server
import socket
import threading

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


def _handler(target_port: int, token: str):
    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the answer ends when the connection closes: no re-chunking

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Authorization"] = f"Bearer {token}"
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                while chunk := answer.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                upstream.close()

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, *args):
            pass

    return Forward


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def token_proxy(port: int, target_port: int, token: str):
    """Serves the proxy on `port` while the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(target_port, token))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

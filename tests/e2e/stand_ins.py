"""Local stand-ins for the services wamcp talks to (a model API, a transcription endpoint, Twilio,
a lharries Go bridge): each a small HTTP server on 127.0.0.1 that keeps the requests and answers as
the real service documents."""

import email.parser
import email.policy
import http.server
import json
import threading


class StandIn:
    """Answers every POST with `respond(path, headers, body) -> (status, JSON-able)` and keeps
    (path, headers, body) of each request in `requests`; a GET is answered the same way with the
    body None (and not kept)."""

    def __init__(self, respond, url_suffix=""):
        stand_in = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stand_in.requests.append((self.path, self.headers, body))
                self.answer(*respond(self.path, self.headers, body))

            def do_GET(self):
                self.answer(*respond(self.path, self.headers, None))

            def answer(self, status, answer):
                reply = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{url_suffix}"

    def close(self):
        self.server.shutdown()


def chat_completions(answer, status=200, models=("local-model",)):
    """An OpenAI-compatible server (as Ollama or vLLM run one) serving `models` (GET /v1/models)
    and answering every completion with `answer`; any other status than 200 comes with an error
    in OpenAI's shape."""
    def respond(path, headers, body):
        if body is None:
            if path != "/v1/models":
                return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}
            return 200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "me"} for m in models]}
        if status != 200:
            return status, {"error": {"message": "The model `local-model` does not exist or you do not have access "
                                      "to it.", "type": "invalid_request_error", "code": "model_not_found"}}
        return 200, {"choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": answer}}]}
    return StandIn(respond, "/v1")


class Transcriptions:
    """An OpenAI-compatible transcription endpoint (`POST /v1/audio/transcriptions`, multipart form
    data), as whisper.cpp's server, faster-whisper-server or OpenAI speak it. It reads each request
    the way those servers do, keeps its form in `forms` ({name: (filename, content type, bytes)},
    with the path and the Authorization header), and answers `transcript`; `fail_next` requests are
    answered 503, and while `hold` is cleared requests wait (`arrived` is set once one came)."""

    def __init__(self, transcript="please call me back about the zanzibar shipment"):
        self.transcript = transcript
        self.forms = []
        self.fail_next = 0
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self.stand_in = StandIn(self.respond)
        self.url = self.stand_in.url

    def respond(self, path, headers, body):
        form, problem = self.read_form(path, headers, body)
        self.forms.append(form)
        self.arrived.set()
        self.hold.wait()
        if problem:
            return 400, {"error": {"message": problem}}
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"error": {"message": "model is loading"}}
        return 200, {"text": " " + self.transcript + "\n"}

    @staticmethod
    def read_form(path, headers, body):
        """The form's fields and what is wrong with it, if anything."""
        form = {"path": path, "authorization": headers.get("Authorization")}
        if path != "/v1/audio/transcriptions":
            return form, f"no endpoint {path}"
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data; boundary="):
            return form, f"not multipart form data: {content_type}"
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            form[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        if "file" not in form or "model" not in form:
            return form, "file and model are required"
        return form, None

    def close(self):
        self.hold.set()
        self.stand_in.close()


def twilio_messages_api():
    """Twilio's Messages API: answers 201 with the new message's sid."""
    count = [0]

    def respond(path, headers, body):
        count[0] += 1
        return 201, {"sid": f"SM{count[0]:032d}", "status": "queued"}
    return StandIn(respond)


def twilio_refusing_credentials():
    """Twilio's Messages API with a wrong auth token: 401, error 20003."""
    return StandIn(lambda path, headers, body: (401, {"code": 20003, "message": "Authenticate", "status": 401}))


def lharries_bridge():
    """lharries' Go bridge REST API: POST /api/send {"recipient", "message"} -> {"success", "message"}."""
    return StandIn(lambda path, headers, body: (200, {"success": True, "message": "Message sent"}), "/api")


class SmtpServer:
    """A local SMTP server (aiosmtpd) standing in for the mail provider: keeps every mail it
    takes, answers 451 (try later) the first time a recipient listed in `flaky` is tried and 550
    (refused for good) for one in `refused`."""

    def __init__(self, flaky=(), refused=()):
        from aiosmtpd.controller import Controller
        import socket
        self.mails, self.tries = [], {}
        self.flaky, self.refused = set(flaky), set(refused)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.tries[address] = self.tries.get(address, 0) + 1
        if address in self.refused:
            return "550 5.1.1 no such mailbox here"
        if address in self.flaky and self.tries[address] == 1:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        self.mails.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted"

    def to(self, address):
        return [m for m in self.mails if m["To"] and address in m["To"]]

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

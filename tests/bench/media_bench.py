"""Figures for attachments the model reads (see scripts/bench-media): the time from a voice note's
arrival to its stored transcript against a local stand-in endpoint (which answers at once, so this
is wamcp's own share: queue, download, multipart post, store), and the bytes of text each
read_document call hands the model for a two-page PDF and a long text file."""

import argparse
import base64
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))

import anyio  # noqa: E402

from conftest import mcp_session  # noqa: E402
from daemon import running  # noqa: E402
from test_media_content import two_page_pdf  # noqa: E402
from stand_ins import Transcriptions  # noqa: E402

ALICE = "447700900123@s.whatsapp.net"


def stored(daemon, message_id, column="1"):
    return daemon.query(f"SELECT {column} FROM messages WHERE id = ?", message_id)


def voice_to_transcript(daemon, notes):
    """Milliseconds from POST /api/sim/incoming to the transcript being readable in the store."""
    times = []
    for _ in range(notes):
        start = time.perf_counter()
        note = daemon.incoming(**{"from": ALICE, "media": {"kind": "voice"}})["id"]
        while not (row := stored(daemon, note, "transcript")) or row[0][0] is None:
            time.sleep(0.002)
        times.append((time.perf_counter() - start) * 1000)
    return times


def document_bytes(daemon):
    pdf = two_page_pdf("Quarterly report for the Lisbon office", "Revenue grew by 12 percent in October")
    long_text = "".join(f"{n:05d},item {n},price {n * 3 % 97}.{n % 100:02d} EUR\n" for n in range(20_000))
    ids = []
    for name, data in [("report.pdf", pdf), ("prices.csv", long_text.encode())]:
        answer = daemon.incoming(**{"from": ALICE, "media": {"kind": "document", "file_name": name,
                                                             "data_base64": base64.b64encode(data).decode()}})
        while not stored(daemon, answer["id"]):
            time.sleep(0.005)
        ids.append(answer["id"])
    calls = []
    for message_id in ids:
        key = {"chat_jid": ALICE, "message_id": message_id}
        calls += [("download_media", key), ("read_document", key), ("read_document", {**key, "pages": "2"})]

    async def go():
        async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", "--listen",
                               f"127.0.0.1:{daemon.port}") as session:
            return [await session.call_tool(tool, arguments) for tool, arguments in calls]

    results = anyio.run(go)
    text = [len(r.content[0].text.encode()) for r in results]
    pages = [r.structured_content.get("page_count") for r in results]
    return {"pdf": (pages[1], text[1], text[2]), "csv": (pages[4], text[4], text[5])}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=50)
    args = parser.parse_args()
    whisper = Transcriptions()
    with tempfile.TemporaryDirectory(prefix="wamcp-bench-media-") as tmp:
        with running(pathlib.Path(tmp) / "data", "--transcription-url", whisper.url) as daemon:
            daemon.history_synced()
            times = sorted(voice_to_transcript(daemon, args.notes))
            p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
            print(f"voice note to stored transcript ({args.notes} notes, stand-in endpoint): "
                  f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")
            for name, (count, first, second) in document_bytes(daemon).items():
                print(f"read_document, {name} of {count} page(s): {first} bytes by default, {second} bytes for page 2")
    whisper.close()


if __name__ == "__main__":
    main()

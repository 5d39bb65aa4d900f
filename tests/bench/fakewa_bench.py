"""Measures the real client inside wamcp against fakewa (see scripts/bench-fakewa)."""

import argparse
import http.client
import json
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))

from fakewa import FakeWA, LinkedDaemon, pair_by_qr  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--sends", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wamcp-bench-fakewa-") as tmp:
        tmp = pathlib.Path(tmp)
        fake = FakeWA(tmp / "fakewa").start()
        try:
            paired = pair_by_qr(fake, tmp / "data")
            assert paired.returncode == 0, paired.stderr
            daemon = LinkedDaemon(tmp / "data", fake).start()
            try:
                history(fake, daemon, args.messages, args.chats)
                sends(fake, daemon, args.sends)
            finally:
                daemon.stop()
        finally:
            fake.stop()


def history(fake, daemon, messages, chats):
    count = "SELECT count(*) FROM messages WHERE text LIKE 'history message %'"
    start = time.monotonic()
    fake.ok("POST", "/history", {"chats": chats, "messages": messages})
    made = time.monotonic() - start
    daemon.wait_until(lambda: daemon.query(count)[0][0] >= messages, "the history is stored", timeout=3600)
    took = time.monotonic() - start
    print(f"history sync: {messages:,} messages in {chats} chats stored in {took:.1f} s "
          f"({messages / took:,.0f} messages/s through the real client; fakewa took {made:.1f} s to make them)")
    print(f"daemon memory after the history: {rss_mb(daemon.process.pid):.0f} MB resident")


def sends(fake, daemon, n):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json",
               "Host": f"127.0.0.1:{daemon.port}"}
    recipient = "447700910000"  # a person from the history: a known chat
    seen = len(fake.received())
    latencies = []
    for i in range(n):
        body = json.dumps({"recipient": recipient, "message": f"bench {i}"})
        start = time.monotonic()
        conn.request("POST", "/api/send", body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
        while True:
            new = fake.ok("GET", f"/received?since={seen}")
            seen += len(new)
            if any(item.get("id") == answer["id"] for item in new):
                break
            time.sleep(0.0005)
        latencies.append(time.monotonic() - start)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"POST /api/send to the phone: {p50:.1f} ms p50, {p99:.1f} ms p99 over {n} sends")


if __name__ == "__main__":
    main()

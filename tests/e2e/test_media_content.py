"""Attachments a model can look at and read, from the real files the simulated network serves: a
photo comes back as image content scaled to what Claude reads, a video as its first frame, a PDF's
text page by page; get_media shows what is saved without fetching it again."""

import base64
import json

import anyio

from conftest import mcp_session
from daemon import running

ALICE = "447700900123@s.whatsapp.net"


def two_page_pdf(first, second):
    """A PDF whose two pages say `first` and `second`, written object by object."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for number, text in enumerate([first, second]):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * number} 0 R >>")
        stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def jpeg_size(data):
    """(width, height) from a JPEG's start-of-frame marker."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
        at += 2 + length
    raise AssertionError("no frame header")


def arrived(daemon, **media):
    answer = daemon.incoming(**{"from": ALICE, "media": media})
    daemon.wait_until(lambda: daemon.query("SELECT count(*) FROM messages WHERE id = ?", answer["id"]) == [(1,)],
                      "the attachment's message is stored")
    return answer["id"]


def calls(daemon, *calls, with_daemon=True):
    listen = ["--listen", f"127.0.0.1:{daemon.port}"] if with_daemon else []

    async def go():
        async with mcp_session("--data-dir", str(daemon.data_dir), "mcp", *listen) as session:
            return [await session.call_tool(tool, arguments) for tool, arguments in calls]

    return anyio.run(go)


def images(result):
    return [block for block in result.content if block.type == "image"]


def test_a_photo_is_shown_as_an_image_of_the_size_claude_reads(tmp_path):
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        photo = arrived(daemon, kind="image", caption="the view")
        downloaded, = calls(daemon, ("download_media", {"chat_jid": ALICE, "message_id": photo}))
        assert not downloaded.is_error, downloaded
        image, = images(downloaded)
        data = base64.b64decode(image.data)
        assert image.mime_type == "image/jpeg" and jpeg_size(data) == (1568, 1176), "2000×1500 scaled to 1568"
        assert len(data) <= 1_000_000
        assert "scaled from 2000×1500" in downloaded.content[0].text
        saved = daemon.query("SELECT local_path FROM messages WHERE id = ?", photo)[0][0]
        assert jpeg_size((daemon.data_dir / saved).read_bytes()) == (2000, 1500), "the original stays on disk"

        # Already saved: get_media shows it from the disk, with no daemon to fetch it.
        daemon.stop()
        shown, = calls(daemon, ("get_media", {"chat_jid": ALICE, "message_id": photo}), with_daemon=False)
        assert not shown.is_error, shown
        assert base64.b64decode(images(shown)[0].data) == data
        assert shown.structured_content["image"] == {"mime_type": "image/jpeg", "width": 1568, "height": 1176,
                                                     "scaled": True}


def test_a_video_is_shown_as_its_first_frame_and_a_missing_file_says_what_to_do(tmp_path):
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        clip = arrived(daemon, kind="video")
        not_yet, = calls(daemon, ("get_media", {"chat_jid": ALICE, "message_id": clip}))
        assert not_yet.is_error and "call download_media first" in not_yet.content[0].text
        downloaded, = calls(daemon, ("download_media", {"chat_jid": ALICE, "message_id": clip}))
        frame, = images(downloaded)
        assert jpeg_size(base64.b64decode(frame.data)) == (320, 240)
        assert "its first frame, 320×240" in downloaded.content[0].text


def test_a_pdf_is_read_page_by_page_within_a_budget(tmp_path):
    pdf = two_page_pdf("Quarterly report for the Lisbon office", "Revenue grew by 12 percent in October")
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        document = arrived(daemon, kind="document", file_name="report.pdf", mimetype="application/pdf",
                           data_base64=base64.b64encode(pdf).decode())
        key = {"chat_jid": ALICE, "message_id": document}
        _, whole, first, second, beyond = calls(
            daemon, ("download_media", key), ("read_document", key), ("read_document", {**key, "pages": 1}),
            ("read_document", {**key, "pages": "2-"}), ("read_document", {**key, "pages": "3"}))
        assert [p["text"] for p in whole.structured_content["pages"]] == [
            "Quarterly report for the Lisbon office", "Revenue grew by 12 percent in October"]
        assert whole.structured_content["page_count"] == 2 and "next_page" not in whole.structured_content
        assert first.structured_content["pages"] == [{"number": 1, "text": "Quarterly report for the Lisbon office"}]
        assert first.structured_content["next_page"] == 2
        assert 'call read_document with pages "2-"' in first.content[0].text
        assert second.structured_content["pages"][0]["number"] == 2
        # The document's words are someone else's: fenced, under the note.
        text = second.content[0].text
        assert text.startswith("Note: text between ⟦msg-") and "⟧\nRevenue grew by 12 percent in October\n⟦/msg-" in text
        assert beyond.is_error and "has 2 page(s)" in beyond.content[0].text
        print(f"read_document bytes per call: whole {len(whole.content[0].text)}, one page {len(first.content[0].text)}")


def test_what_cannot_be_read_says_why(tmp_path):
    with running(tmp_path / "data") as daemon:
        daemon.history_synced()
        sheet = arrived(daemon, kind="document", file_name="prices.xls", mimetype="application/vnd.ms-excel")
        broken = arrived(daemon, kind="document", file_name="broken.pdf",
                         data_base64=base64.b64encode(b"%PDF-1.4\nthis is not a pdf").decode())
        photo = arrived(daemon, kind="image")
        results = calls(daemon, *[("download_media", {"chat_jid": ALICE, "message_id": m}) for m in (sheet, broken, photo)],
                        *[("read_document", {"chat_jid": ALICE, "message_id": m}) for m in (sheet, broken, photo)],
                        ("read_document", {"chat_jid": ALICE, "message_id": sheet, "pages": "two"}))
        xls, pdf, image, bad_pages = results[3], results[4], results[5], results[6]
        assert xls.is_error and "only PDF and text files" in xls.content[0].text and "prices.xls" in xls.content[0].text
        assert pdf.is_error and "PDF" in pdf.content[0].text, pdf.content[0].text
        assert image.is_error and "not a document; get_media shows photos" in image.content[0].text
        assert bad_pages.is_error and "pages: 'two' is not a page or a range" in bad_pages.content[0].text

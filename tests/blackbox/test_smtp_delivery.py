"""Mail over SMTP arrives in an mbox and in a Maildir, byte for byte."""

import hashlib
import random
import re

from tern_helpers import (ID_RE, LOG_HEAD, make_message, mbox_from_lines,
                          split_message)

# Lines that SMTP dot-stuffing must carry through untouched.
DOT_LINES = b".\n..\n...\n.leading dot\n..two dots\n. space\n"
# 8-bit text (UTF-8 and bytes that are not UTF-8), whitespace details.
EIGHT_BIT = ("caf\u00e9 na\u00efve \u00fcber \u20ac \u4e2d\u6587\n"
             ).encode() + b"latin-1: \xe9\xe8\xff\xfe\x80\n" + \
    b"trailing spaces   \n\ttab first\n\n\nafter two blank lines\n"


def rich_body():
    return b"Hello,\n\n" + DOT_LINES + EIGHT_BIT + b"last line\n"


def test_mbox_delivery_via_localuser(tern):
    tern.config()
    tern.start_daemon()
    rcpt = f"{tern.user}@test.example"
    body = b"Hello mbox.\n\nSecond paragraph.\n"
    msg = make_message(to=rcpt, subject="mbox test", body=body)
    assert tern.send(rcpt, msg, sender="sender@example.net") == {}
    tern.wait_queue_empty()

    msgs = tern.mbox(tern.user)
    assert len(msgs) == 1
    hdrs, got = split_message(msgs[0])
    assert got == body
    assert hdrs["Subject"] == "mbox test"
    assert hdrs["Return-path"] == "<sender@example.net>"
    assert hdrs["Envelope-to"] == rcpt
    assert hdrs["Delivery-date"]
    received = hdrs.get_all("Received")
    assert received and "test.example" in received[0], received
    assert mbox_from_lines(tern.path("mail", tern.user))[0].startswith(
        "sender@example.net ")

    (msgid,) = tern.arrivals()
    assert re.search(LOG_HEAD + msgid + r" <= sender@example\.net ",
                     tern.mainlog(), re.M)
    (line,) = tern.deliveries(msgid)
    assert rcpt in line and "R=localuser" in line and "T=local_mbox" in line
    tern.wait_completed(msgid)


def test_maildir_delivery(tern):
    tern.config()
    tern.start_daemon()
    rcpt = f"{tern.user}@maildir.example"
    body = b"Hello Maildir.\n"
    msg = make_message(to=rcpt, subject="maildir test", body=body)
    assert tern.send(rcpt, msg) == {}
    tern.wait_queue_empty()

    msgs = tern.maildir(tern.user)
    assert len(msgs) == 1
    assert not msgs[0].startswith(b"From "), "a Maildir file has no From_ line"
    hdrs, got = split_message(msgs[0])
    assert got == body
    assert hdrs["Subject"] == "maildir test"
    assert hdrs["Envelope-to"] == rcpt
    assert hdrs["Return-path"] == "<sender@example.net>"


def test_8bit_and_dot_stuffed_body_intact(tern):
    tern.config()
    tern.start_daemon()
    body = rich_body()
    to = [f"{tern.user}@test.example", f"{tern.user}@maildir.example"]
    msg = make_message(to=", ".join(to), subject="8bit", body=body,
                       headers=["MIME-Version: 1.0",
                                "Content-Type: text/plain; charset=utf-8",
                                "Content-Transfer-Encoding: 8bit"])
    assert tern.send(to, msg, mail_options=["BODY=8BITMIME"]) == {}
    tern.wait_queue_empty()
    for where, raw in (("mbox", tern.mbox(tern.user)),
                       ("maildir", tern.maildir(tern.user))):
        assert len(raw) == 1, where
        _, got = split_message(raw[0])
        assert got == body, f"{where}: got {got!r}, want {body!r}"


def test_from_lines_escaped_in_mbox_only(tern):
    tern.config()
    tern.start_daemon()
    body = b"From the start of a line\nnot From here\n>From already\n"
    to = [f"{tern.user}@test.example", f"{tern.user}@maildir.example"]
    assert tern.send(to, make_message(to=to[0], body=body)) == {}
    tern.wait_queue_empty()
    (raw,) = tern.mbox(tern.user)
    _, got = split_message(raw)
    assert got.startswith(b">From the start of a line\n"), got
    assert b"\nnot From here\n" in got
    (raw,) = tern.maildir(tern.user)
    assert split_message(raw)[1] == body


def test_5mb_body(tern):
    tern.config()
    tern.start_daemon()
    rng = random.Random(5)
    alphabet = bytes(range(0x20, 0x7f)) + bytes(range(0xa0, 0x100))
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    text = rng.randbytes(5 * 1024 * 1024 + 4096).translate(table)
    lines, pos = [], 0
    while pos < len(text):
        n = rng.randint(0, 120)
        line = text[pos:pos + n]
        pos += n
        if line.startswith(b"From "):
            line = b"x" + line
        lines.append(line + b"\n")
    body = b"".join(lines)
    assert body.count(b"\n.") > 100     # lines that need dot-stuffing
    rcpt = f"{tern.user}@test.example"
    assert tern.send(rcpt, make_message(to=rcpt, body=body),
                     mail_options=["BODY=8BITMIME"]) == {}
    tern.wait_queue_empty(timeout=120)
    (raw,) = tern.mbox(tern.user)
    _, got = split_message(raw)
    assert len(got) == len(body)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()


def test_envelope_not_to_header(tern):
    tern.config()
    tern.start_daemon()
    msg = make_message(to="mallory@test.example",
                       headers=["Cc: bob@test.example"],
                       body=b"for alice only\n")
    assert tern.send(["alice@test.example"], msg) == {}
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1
    assert not tern.path("mail", "mallory").exists()
    assert not tern.path("mail", "bob").exists()


def test_fifty_recipients_each_once(tern):
    names = [f"r{i:02d}" for i in range(1, 51)]
    tern.config(aliases="".join(f"{n}: @DIR@/mail/{n}\n" for n in names))
    tern.start_daemon()
    rcpts = [f"{n}@test.example" for n in names]
    # the same recipient twice in the envelope is still one delivery
    envelope = rcpts + ["r07@test.example"]
    msg = make_message(to="undisclosed-recipients:;", body=b"fifty\n")
    assert tern.send(envelope, msg) == {}
    tern.wait_queue_empty(timeout=60)
    ids = set()
    for n in names:
        msgs = tern.mbox(n)
        assert len(msgs) == 1, f"{n} got {len(msgs)} copies"
        hdrs, body = split_message(msgs[0])
        assert body == b"fifty\n"
        assert hdrs["Envelope-to"] == f"{n}@test.example"
        ids.add(hdrs["Message-ID"])
    assert len(ids) == 1
    (msgid,) = tern.arrivals()
    assert len(tern.deliveries(msgid)) == 50, tern.deliveries(msgid)


def test_two_messages_one_connection_same_mbox(tern):
    tern.config()
    tern.start_daemon()
    rcpt = f"{tern.user}@test.example"
    with tern.smtp() as s:
        s.sendmail("a@example.net", [rcpt],
                   make_message(to=rcpt, subject="first", body=b"one\n"))
        s.sendmail("b@example.net", [rcpt],
                   make_message(to=rcpt, subject="second", body=b"two\n"))
    tern.wait_queue_empty()
    msgs = tern.mbox(tern.user)
    assert len(msgs) == 2
    subjects = sorted(split_message(m)[0]["Subject"] for m in msgs)
    assert subjects == ["first", "second"]
    ids = tern.arrivals()
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all(re.fullmatch(ID_RE, i) for i in ids)

"""Bounces and warnings (issue 4): RFC 3464 reports that Python's email
package parses, frozen undeliverable bounces with a notice to postmaster,
delay warnings, errors_to, the frozen-message timers, -Mf/-Mt."""

import email
import email.policy
import os
import re
import time

from tern_helpers import (STANDARD_ALIASES, STANDARD_CONFIG, make_message,
                          wait_for)


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def report_parts(msg):
    """(text part, delivery-status blocks, returned part)"""
    assert msg.get_content_type() == "multipart/report", msg.as_string()[:2000]
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    return parts[0], parts[1].get_payload(), parts[2]


def sendmail(tern, to, body=b"hello\n", args=(), subject="test message"):
    before = set(tern.arrivals())
    tern.run(list(args) + (to if isinstance(to, list) else [to]),
             input=make_message(to=", ".join(to) if isinstance(to, list)
                                else to, body=body, subject=subject,
                                eol=b"\n"), prog="sendmail").ok()
    new = [i for i in tern.arrivals() if i not in before]
    return new[0]       # (a bounce may have arrived after it)


def test_permanent_failure_bounce_is_rfc3464(tern):
    tern.config()
    msgid = sendmail(tern, ["nosuch@test.example", "alice@test.example"],
                     body=b"the original body\n", args=["-odi"],
                     subject="lost in the post")
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1
    (raw,) = tern.mbox(tern.user)
    msg = parse(raw)
    assert msg["From"].startswith("Mail Delivery System")
    text, blocks, returned = report_parts(msg)
    assert "nosuch@test.example" in text.get_payload()
    head, rcpt = blocks[0], blocks[1]
    assert head["Reporting-MTA"] == "dns; test.example"
    assert head["Arrival-Date"]
    assert rcpt["Final-Recipient"] == "rfc822;nosuch@test.example"
    assert rcpt["Action"] == "failed"
    assert re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", rcpt["Status"])
    assert "Unknown user" in rcpt["Diagnostic-Code"]
    assert len(blocks) == 2          # alice was delivered, not reported
    # the original comes back, headers and body
    assert returned.get_content_type() == "message/rfc822"
    orig = returned.get_payload()[0]
    assert orig["Subject"] == "lost in the post"
    assert orig.get_payload() == "the original body\n"
    # the bounce's envelope sender is <> (Return-path added by the transport)
    assert msg["Return-path"] == "<>"


def test_large_message_returns_headers_only(tern):
    tern.config(main="bounce_return_size_limit = 1K")
    sendmail(tern, "nosuch@test.example", body=b"x" * 4000 + b"\n",
             args=["-odi"], subject="big one")
    tern.wait_queue_empty()
    (raw,) = tern.mbox(tern.user)
    _, blocks, returned = report_parts(parse(raw))
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"Subject: big one" in raw and b"x" * 100 not in raw


def test_undeliverable_bounce_is_frozen_and_postmaster_told(tern):
    tern.config()
    msgid = sendmail(tern, "nosuch@test.example", args=["-odi", "-f", "<>"])
    wait_for(lambda: any("Frozen" in l for l in tern.log_lines(msgid)), 20,
             "the bounce to freeze")
    assert any("Frozen (delivery error message)" in l
               for l in tern.log_lines(msgid)), tern.log_lines(msgid)
    r = tern.run(["-bp"]).ok()
    assert "*** frozen ***" in r.stdout and msgid in r.stdout, r
    # postmaster (an alias for the test user) got a notice
    (raw,) = tern.wait_mbox(tern.user)
    notice = parse(raw)
    assert msgid in notice["Subject"] and "frozen" in notice["Subject"]
    assert "delivery error message" in notice.get_payload()
    # a queue run leaves a frozen message alone, -qff tries it again
    tern.run(["-q"]).ok()
    assert msgid in tern.queue_ids()
    assert len(tern.mbox(tern.user)) == 1     # told once only
    # thaw / freeze by hand
    r = tern.run(["-Mt", msgid]).ok()
    assert "no longer frozen" in r.stdout
    assert "*** frozen ***" not in tern.run(["-bp"]).ok().stdout
    r = tern.run(["-Mf", msgid]).ok()
    assert "now frozen" in r.stdout
    lines = tern.log_lines(msgid)
    assert any(f"unfrozen by {tern.user}" in l for l in lines), lines
    assert any(f"frozen by {tern.user}" in l for l in lines), lines


def test_ignore_bounce_errors_after_discards_old_frozen_bounce(tern):
    tern.config(main="ignore_bounce_errors_after = 1s")
    msgid = sendmail(tern, "nosuch@test.example", args=["-odi", "-f", "<>"])
    wait_for(lambda: any("Frozen" in l for l in tern.log_lines(msgid)), 20,
             "the bounce to freeze")
    time.sleep(2.1)
    tern.run(["-q"]).ok()
    tern.wait_completed(msgid)
    lines = tern.log_lines(msgid)
    assert any("Unfrozen by errmsg timer" in l for l in lines), lines
    assert any("bounce message discarded" in l for l in lines), lines


def test_timeout_frozen_after_cancels_and_bounces(tern):
    tern.config(main="timeout_frozen_after = 1s")
    msgid = sendmail(tern, "alice@test.example", args=["-odq"])
    tern.run(["-Mf", msgid]).ok()
    time.sleep(2.1)
    tern.run(["-q"]).ok()
    tern.wait_completed(msgid)
    assert not tern.path("mail", "alice").exists()
    tern.wait_queue_empty()
    (raw,) = tern.mbox(tern.user)
    _, blocks, _ = report_parts(parse(raw))
    assert blocks[1]["Final-Recipient"] == "rfc822;alice@test.example"
    assert "timeout_frozen_after" in blocks[1]["Diagnostic-Code"]


def test_delay_warning(tern):
    tern.config(STANDARD_CONFIG + "\nbegin retry\n* * F,1h,10m\n",
                main="delay_warning = 2s : 1h",
                aliases=STANDARD_ALIASES + "locked: @DIR@/locked/box\n")
    locked = tern.path("locked")
    locked.mkdir()
    tern.own(locked)
    os.chmod(locked, 0o555)
    msgid = sendmail(tern, "locked@test.example", args=["-odi"])
    assert not tern.path("mail", tern.user).exists()   # not yet
    time.sleep(3.1)
    tern.run(["-q"]).ok()
    (raw,) = tern.wait_mbox(tern.user)
    msg = parse(raw)
    assert msg["Subject"].startswith(f"Warning: message {msgid} delayed")
    _, blocks, returned = report_parts(msg)
    assert "locked/box" in blocks[1]["Final-Recipient"]
    assert blocks[1]["Original-Recipient"] == "rfc822;locked@test.example"
    assert blocks[1]["Action"] == "delayed"
    assert blocks[1]["Status"].startswith("4.")
    assert returned.get_content_type() == "text/rfc822-headers"
    # counted in -H (line 4: received time, warnings sent)
    hdr = tern.run(["-Mvh", msgid]).ok().stdout.splitlines()
    assert hdr[3].split()[1] == "1", hdr[:5]
    # sent once per interval: another run at once sends nothing more
    tern.run(["-q"]).ok()
    assert len(tern.mbox(tern.user)) == 1
    assert msgid in tern.queue_ids()


def test_errors_to_on_a_director(tern):
    cfg = STANDARD_CONFIG.replace(
        "  pipe_transport = address_pipe\n",
        "  pipe_transport = address_pipe\n  errors_to = bob@test.example\n")
    tern.config(cfg, aliases=STANDARD_ALIASES + "lost: nosuch@nowhere.test\n")
    sendmail(tern, "lost@test.example", args=["-odi"])
    tern.wait_queue_empty()
    assert not tern.path("mail", tern.user).exists()
    (raw,) = tern.mbox("bob")
    _, blocks, _ = report_parts(parse(raw))
    assert blocks[1]["Final-Recipient"] == "rfc822;nosuch@nowhere.test"

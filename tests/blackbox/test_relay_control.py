"""Relay control at RCPT time: nobody relays unless the client is in
relay_from_hosts or authenticated, or the domain is in relay_to_domains;
the classic open-relay tricks are refused; postmaster is always accepted."""

import re

from tern_helpers import make_message

# Each must get 550 from a client that may not relay; none may be queued.
RELAY_TRICKS = [
    "<someone@remote.example>",
    "<someone%remote.example@test.example>",
    "<@test.example:someone@remote.example>",
    "<@test.example,@localhost:someone@remote.example>",
    "<\"someone@remote.example\"@test.example>",
    "<\"someone%remote.example\"@test.example>",
    "<remote.example!someone@test.example>",
    "<someone@[127.0.0.1]>",
    "<someone%remote.example@[127.0.0.1]>",
    "<SOMEONE@REMOTE.EXAMPLE>",
]


def session(tern, rcpts, helo="client.example"):
    """(code, text) for each RCPT in one session, and DATA's code."""
    out = []
    with tern.raw() as c:
        c.expect(f"EHLO {helo}", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        for r in rcpts:
            out.append(c.cmd(f"RCPT TO:{r}"))
        data = c.cmd("DATA")[0]
        if data == 354:
            c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
            c.reply()
        c.expect("QUIT", 221)
    return out, data


def test_open_relay_tricks_refused(tern):
    tern.config()
    tern.start_daemon()
    replies, data = session(tern, RELAY_TRICKS)
    for rcpt, (code, text) in zip(RELAY_TRICKS, replies):
        assert code == 550, f"RCPT TO:{rcpt}: got {code} {text}, want 550"
    assert data in (503, 554)
    assert tern.queue_ids() == []
    reject = tern.rejectlog()
    assert len(re.findall(r"rejected RCPT", reject)) == len(RELAY_TRICKS), \
        reject
    assert "relay not permitted" in reject


def test_relay_from_hosts_and_relay_to_domains(tern):
    tern.config(main="relay_from_hosts = 127.0.0.1\nqueue_only = true")
    tern.start_daemon()
    replies, data = session(tern, ["<someone@remote.example>"])
    assert replies[0][0] == 250 and data == 354
    assert len(tern.queue_ids()) == 1
    tern.stop()

    tern.config(main="relay_to_domains = backup.example\nqueue_only = true")
    tern.start_daemon()
    replies, _ = session(tern, ["<someone@backup.example>",
                                "<someone@remote.example>",
                                "<someone%remote.example@backup.example>"])
    assert [r[0] for r in replies] == [250, 550, 550], replies
    assert len(tern.queue_ids()) == 2


def test_postmaster_of_every_local_domain(tern):
    tern.config(aliases="# no postmaster alias here\n")
    tern.start_daemon()
    rcpts = ["<postmaster@test.example>", "<Postmaster@maildir.example>",
             "<postmaster@localhost>", "<nosuchuser@test.example>"]
    replies, _ = session(tern, rcpts)
    assert [r[0] for r in replies] == [250, 250, 250, 550], replies

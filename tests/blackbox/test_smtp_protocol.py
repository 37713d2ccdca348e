"""The SMTP server's protocol edges, driven with raw sockets."""

import re

import pytest

from tern_helpers import STANDARD_CONFIG, split_message


def ehlo(c):
    code, text = c.cmd("EHLO client.example")
    assert code == 250, text
    return text


def test_banner_and_ehlo_keywords(tern):
    tern.config(main="message_size_limit = 1M\n")
    tern.start_daemon()
    with tern.raw() as c:
        assert c.banner[0] == 220 and "test.example" in c.banner[1], c.banner
        lines = ehlo(c).splitlines()
        assert lines[0].startswith("test.example"), lines
        keywords = {l.split()[0].upper(): l for l in lines[1:]}
        for kw in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"):
            assert kw in keywords, lines
        assert keywords["SIZE"].split()[1:] == ["1048576"], lines
        assert "VRFY" not in keywords
        c.expect("HELO client.example", 250)
        c.expect("NOOP", 250)
        c.expect("RSET", 250)
        assert c.cmd("HELP")[0] == 214
        assert c.cmd("FROBNICATE now")[0] == 500
        c.expect("QUIT", 221)


DATE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} " \
       r"\d\d:\d\d:\d\d [+-]\d{4}"


@pytest.mark.parametrize("banner,want,by_daemon", [
    ("", rf"test\.example ESMTP Tern \S+ {DATE}", True),
    ('smtp_banner = "first line\\nsecond line"\n',
     "first line\nsecond line", True),
    ("smtp_banner = $primary_hostname at $interface_address\n",
     r"test\.example at 127\.0\.0\.1", False),
], ids=["default", "multi-line", "expanded"])
def test_greeting_from_the_daemon_unless_expanded(tern, banner, want,
                                                  by_daemon):
    """A banner that needs no expansion the daemon sends itself, as it
    accepts, so that the client's EHLO is on its way while the reception
    process starts; one to expand (it may use the connection's
    variables) is the reception process's.  The client sees the same."""
    tern.config(main=banner)
    tern.start_daemon(args=["-d"])
    with tern.raw() as c:
        assert c.banner[0] == 220, c.banner
        assert re.fullmatch(want, c.banner[1]), c.banner
        ehlo(c)
        c.expect("QUIT", 221)
    debug = tern.path("daemon.out").read_text(errors="replace")
    assert ("daemon: SMTP>> 220" in debug) == by_daemon, debug
    assert ("SMTP>> (the daemon's 220)" in debug) == by_daemon, debug


CONN_VARS = ("$sender_host_address $sender_host_port $received_ip_address "
             "$received_port $interface_address $interface_port")


def test_connection_variables_from_the_connection_on(tern):
    """Both ends of the connection, under Exim's names ($received_ip_address,
    $received_port) and the older ones it still accepts ($interface_...):
    set from the connection on, as in Exim, so the banner (and
    auth_advertise_hosts, server_condition) sees them; then spooled with the
    message, so a delivery sees them too."""
    head = "local_mbox:\n  driver = appendfile\n"
    assert head in STANDARD_CONFIG
    tern.config(
        STANDARD_CONFIG.replace(head, f"{head}  headers_add = X-Conn: "
                                f"{CONN_VARS}\n"),
        main=f'smtp_banner = "{CONN_VARS}"\n')
    tern.start_daemon()
    with tern.raw() as c:
        client_port = c.sock.getsockname()[1]
        want = (f"127.0.0.1 {client_port} 127.0.0.1 {tern.port} "
                f"127.0.0.1 {tern.port}")
        assert c.banner == (220, want), c.banner
        ehlo(c)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect(f"RCPT TO:<{tern.user}@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: where from\r\n\r\nhere\r\n.\r\n")
        assert c.reply()[0] == 250
        c.expect("QUIT", 221)
    tern.wait_queue_empty()
    (raw,) = tern.mbox(tern.user)
    assert split_message(raw)[0]["X-Conn"] == want, raw

    # Not from a connection: all empty.
    tern.run(["-odi", "-f", "sender@example.net", f"{tern.user}@test.example"],
             input=b"Subject: local\n\nhere\n").ok()
    tern.wait_queue_empty()
    raw = tern.mbox(tern.user)[1]
    assert split_message(raw)[0]["X-Conn"] == "", raw


BAD_SENDERS = ["<a@@example.net>", "<a@example..net>", "<a@>",
               "<\"unterminated@example.net>", "<a b@example.net>",
               "<a@example.net", "<@example.net>", "<a@exa mple.net>"]
BAD_RECIPIENTS = ["<b@@test.example>", "<x y@test.example>",
                  "<@test.example>", "<alice@test.example",
                  "<alice@test..example>"]


def test_bad_addresses_get_501(tern):
    # 13 syntax errors in one session: more than smtp_max_synprot_errors
    # (default 3, as in Exim) allows.
    tern.config(main="smtp_max_synprot_errors = 0\n")
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        for bad in BAD_SENDERS:
            code, text = c.cmd(f"MAIL FROM:{bad}")
            assert code == 501, f"MAIL FROM:{bad}: got {code} {text}"
        c.expect("MAIL FROM:<sender@example.net>", 250)
        for bad in BAD_RECIPIENTS:
            code, text = c.cmd(f"RCPT TO:{bad}")
            assert code == 501, f"RCPT TO:{bad}: got {code} {text}"
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("QUIT", 221)


def test_sequencing_503(tern):
    # 4 protocol errors: more than smtp_max_synprot_errors (3) allows.
    tern.config(main="smtp_max_synprot_errors = 10\n")
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        assert c.cmd("RCPT TO:<alice@test.example>")[0] == 503
        assert c.cmd("DATA")[0] == 503
        c.expect("MAIL FROM:<a@example.net>", 250)
        assert c.cmd("MAIL FROM:<b@example.net>")[0] == 503
        assert c.cmd("DATA")[0] == 503            # no recipient yet
        c.expect("RSET", 250)
        assert c.cmd("RCPT TO:<alice@test.example>")[0] == 503
        c.expect("MAIL FROM:<a@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: in order\r\n\r\nok\r\n.\r\n")
        assert c.reply()[0] == 250
        c.expect("QUIT", 221)
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1


def test_pipelined_transaction(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        c.send("MAIL FROM:<sender@example.net>\r\n"
               "RCPT TO:<alice@test.example>\r\n"
               "RCPT TO:<nosuchuser@test.example>\r\n"
               "RCPT TO:<bob@test.example>\r\n"
               "DATA\r\n")
        codes = [c.reply()[0] for _ in range(5)]
        assert codes == [250, 250, 550, 250, 354], codes
        c.send(b"Subject: pipelined\r\n\r\nfast\r\n.\r\nQUIT\r\n")
        assert c.reply()[0] == 250
        assert c.reply()[0] == 221
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1 and len(tern.mbox("bob")) == 1


def test_message_size_limit_552(tern):
    tern.config(main="message_size_limit = 100K\n")
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        code, text = c.cmd("MAIL FROM:<sender@example.net> SIZE=200000")
        assert code == 552, text
        c.expect("MAIL FROM:<sender@example.net> SIZE=1000", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        big = b"Subject: too big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 150
        c.send(big + b".\r\n")
        code, text = c.reply()
        assert code == 552, text
        # the session is still in step
        c.expect("NOOP", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: small\r\n\r\nfits\r\n.\r\n")
        assert c.reply()[0] == 250
        c.expect("QUIT", 221)
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    assert split_message(raw)[0]["Subject"] == "small"


# Line ends that must NOT end the DATA phase: only CRLF "." CRLF does.
FAKE_ENDS = {"LF.LF": b"\n.\n", "CR.CR": b"\r.\r", "CRLF.LF": b"\r\n.\n",
             "LF.CRLF": b"\n.\r\n", "CR.CRLF": b"\r.\r\n"}


@pytest.mark.parametrize("fake", FAKE_ENDS.values(), ids=FAKE_ENDS.keys())
def test_no_smtp_smuggling(tern, fake):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: smuggle\r\n\r\nbefore" + fake +
               b"MAIL FROM:<evil@example.net>\r\n"
               b"RCPT TO:<mallory@test.example>\r\n"
               b"DATA\r\n"
               b"Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\n")
        code, text = c.reply()
        assert code == 250, text
        assert c.pending() == b"", "more replies than commands"
        c.expect("QUIT", 221)
    tern.wait_queue_empty()
    assert len(tern.arrivals()) == 1
    (raw,) = tern.mbox("alice")
    assert b"evil@example.net" in raw and b"smuggled body" in raw
    assert not tern.path("mail", "mallory").exists()


def test_relay_denied(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        code, text = c.cmd("RCPT TO:<someone@remote.example>")
        assert code == 550 and re.search("relay", text, re.I), (code, text)
        # a source route or a % hack does not open the relay either
        for rcpt in ("<@test.example:someone@remote.example>",
                     "<someone%remote.example@test.example>"):
            code, text = c.cmd(f"RCPT TO:{rcpt}")
            assert 500 <= code < 600, f"RCPT TO:{rcpt}: {code} {text}"
        assert c.cmd("DATA")[0] in (503, 554)
        c.expect("QUIT", 221)
    assert tern.queue_ids() == []
    tern.wait_for_log("someone@remote.example", which="reject")


def test_postmaster_always_accepted(tern):
    tern.config()
    tern.start_daemon()
    for rcpt in ("<postmaster>", "<PostMaster@test.example>",
                 "<postmaster@LOCALHOST>"):
        with tern.raw() as c:
            ehlo(c)
            c.expect("MAIL FROM:<sender@example.net>", 250)
            code, text = c.cmd(f"RCPT TO:{rcpt}")
            assert code == 250, f"RCPT TO:{rcpt}: {code} {text}"
            c.expect("DATA", 354)
            c.send(b"Subject: to the postmaster\r\n\r\nhello\r\n.\r\n")
            assert c.reply()[0] == 250
            c.expect("QUIT", 221)
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 3


def test_vrfy_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        known = c.cmd("VRFY alice")
        unknown = c.cmd("VRFY nosuchuser")
        assert known[0] in (252, 502), known
        assert known[0] == unknown[0], (known, unknown)
        assert str(tern.path("mail")) not in known[1]
        c.expect("QUIT", 221)


def test_unknown_user_550_at_rcpt(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        ehlo(c)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        for rcpt in ("nosuchuser@test.example", "nosuchuser@maildir.example",
                     "nosuchuser@localhost"):
            code, text = c.cmd(f"RCPT TO:<{rcpt}>")
            assert code == 550, f"{rcpt}: {code} {text}"
        c.expect(f"RCPT TO:<{tern.user}@maildir.example>", 250)
        c.expect("QUIT", 221)
    assert tern.queue_ids() == []

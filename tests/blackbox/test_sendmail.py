"""Local submission: sendmail -t -i, -bs, -f, -odq then -q."""

import os
import pty
import re
import select
import subprocess

from tern_helpers import (ID_RE, SLOWPIPE, STANDARD_ALIASES, PipeSMTP,
                          delivery_of, make_message, session_of,
                          split_message, wait_for)


def test_sendmail_t_i(tern):
    tern.config()
    user = tern.user
    body = b"line one\n.\n..\n.dot\nlast\n"
    msg = make_message(to=f"{user}@test.example",
                       headers=["Cc: alice@test.example",
                                "Bcc: bob@test.example"],
                       subject="via -t", body=body, eol=b"\n")
    r = tern.run(["-t", "-i"], input=msg, prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    for raw in (tern.mbox(user)[0], tern.mbox("alice")[0],
                tern.mbox("bob")[0]):
        hdrs, got = split_message(raw)
        assert got == body
        assert hdrs["Subject"] == "via -t"
        assert hdrs["Bcc"] is None, "Bcc: must be removed"
        assert hdrs["Return-path"] == f"<{user}@test.example>"
    assert len(tern.mbox(user)) == 1
    (msgid,) = tern.arrivals()
    assert re.search(rf"{msgid} <= {re.escape(user)}@test\.example",
                     tern.mainlog())


def test_sendmail_lone_dot_ends_message_without_i(tern):
    tern.config()
    msg = b"Subject: dot\n\nfirst\n.\nsecond\n"
    r = tern.run(["alice@test.example"], input=msg, prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    hdrs, got = split_message(raw)
    assert got == b"first\n"
    # headers a local submission lacks are added
    assert hdrs["Message-ID"] and hdrs["Date"] and hdrs["From"]


def test_the_from_header_added_carries_the_full_name(tern):
    """Exim's form for a local message without From:: "NAME
    <login@qualify_domain>", NAME from -F (anyone may set it) quoted as
    RFC 5322 needs, RFC 2047 for 8-bit text; without a name the bare
    address."""
    tern.config()
    user = tern.user
    cases = [(["-F", "Zaphod Beeblebrox"],
              f"Zaphod Beeblebrox <{user}@test.example>"),
             (["-FCronDaemon"], f"CronDaemon <{user}@test.example>"),
             (["-F", 'Ford "Ix" Prefect, Jr.'],
              f'"Ford \\"Ix\\" Prefect, Jr." <{user}@test.example>'),
             (["-F", "Ren\u00e9e"],
              f"=?utf-8?B?UmVuw6ll?= <{user}@test.example>"),
             (["-F", ""], f"{user}@test.example")]
    for args, _ in cases:
        r = tern.run([*args, "-odi", "alice@test.example"],
                     input=b"Subject: name\n\nbody\n", prog="sendmail")
        assert r.returncode == 0, r
    msgs = tern.wait_mbox("alice", len(cases))
    got = [split_message(raw)[0]["From"] for raw in msgs]
    assert got == [want for _, want in cases]
    # A From: in the message is left alone.
    r = tern.run(["-F", "Someone", "-odi", "bob@test.example"],
                 input=b"From: me@example.org\n\nbody\n", prog="sendmail")
    assert r.returncode == 0, r
    assert split_message(tern.wait_mbox("bob")[0])[0]["From"] == \
        "me@example.org"


def test_sendmail_unqualified_recipient_and_f(tern):
    tern.config()
    msg = b"Subject: envelope sender\n\nbody\n"
    r = tern.run(["-f", "bounces@example.org", "-i", "alice"], input=msg,
                 prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    hdrs, _ = split_message(raw)
    assert hdrs["Return-path"] == "<bounces@example.org>"
    assert hdrs["Envelope-to"] == "alice@test.example"
    assert re.search(r" <= bounces@example\.org", tern.mainlog())


def test_bs_smtp_on_stdin(tern):
    tern.config()
    p = tern.popen(["-bs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL)
    c = PipeSMTP(p)
    assert c.banner[0] == 220
    code, text = c.cmd("EHLO client.example")
    assert code == 250 and "PIPELINING" in text.upper()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@test.example>", 250)
    c.expect("RCPT TO:<nosuchuser@test.example>", 550)
    c.expect("DATA", 354)
    c.send(b"Subject: -bs\r\n\r\nhello\r\n..hidden dot\r\n\xc3\xa9\r\n.\r\n")
    code, text = c.reply()
    assert code == 250, text
    c.expect("QUIT", 221)
    c.close()
    assert p.wait(20) == 0
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    hdrs, got = split_message(raw)
    assert got == b"hello\n.hidden dot\n\xc3\xa9\n"
    assert hdrs["Return-path"] == "<sender@example.net>"


def test_odq_then_q(tern):
    tern.config()
    user = tern.user
    r = tern.run(["-odq", "-i", "alice@test.example", "bob@test.example"],
                 input=b"Subject: queued\n\nwait for it\n", prog="sendmail")
    assert r.returncode == 0, r
    (msgid,) = tern.queue_ids()
    assert not tern.path("mail", "alice").exists(), "-odq must not deliver"

    r = tern.run(["-bpc"]).ok()
    assert r.stdout.strip() == "1"
    for listing in (tern.run(["-bp"]).ok(), tern.run([], prog="mailq").ok()):
        lines = listing.stdout.splitlines()
        head = [l for l in lines if msgid in l]
        assert len(head) == 1, listing
        assert re.match(rf"^\s*\d+[smhdw]?\s+\S+\s+{msgid}\s+"
                        rf"<{re.escape(user)}@test\.example>", head[0]), head
        i = lines.index(head[0])
        rcpts = [l.strip() for l in lines[i + 1:i + 3]]
        assert rcpts == ["alice@test.example", "bob@test.example"], listing
        assert all(l.startswith((" ", "\t")) for l in lines[i + 1:i + 3])

    r = tern.run(["-q"])
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    assert split_message(tern.mbox("alice")[0])[1] == b"wait for it\n"
    assert len(tern.mbox("bob")) == 1
    assert tern.run(["-bpc"]).ok().stdout.strip() == "0"
    tern.wait_completed(msgid)
    assert re.fullmatch(ID_RE, msgid)


def test_sendmail_on_a_terminal_delivers_in_its_own_session(tern):
    """sendmail run from a shell: its delivery process leaves the
    terminal's session (the terminal's hang-up and job control cannot
    reach it, nor stop it for writing to it) and finishes after the
    terminal is gone."""
    tern.script("slowpipe", SLOWPIPE)
    tern.config(aliases=STANDARD_ALIASES +
                'slow: "|@DIR@/bin/slowpipe @DIR@/out"\n')
    argv = tern.argv(["-oi", "slow@test.example"], prog="sendmail")
    env = tern.env()
    pid, master = pty.fork()  # the child: a session on a new terminal
    if pid == 0:
        try:
            os.chdir(tern.dir)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    started = tern.path("out", "started")
    shown = bytearray()

    def delivering():
        # what the terminal shows (the echo, any error), read as it comes
        while select.select([master], [], [], 0)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            shown.extend(data)
        return started.exists()
    try:
        # ^D at the start of a line: the end of input, as typed.
        os.write(master, b"Subject: typed\n\nat a terminal\n\x04")
        try:
            wait_for(delivering, 30, "the slow delivery")
        except AssertionError as e:
            raise AssertionError(f"{e}; the terminal shows {bytes(shown)!r}")
        delivery = delivery_of(int(started.read_text().split()[1]))
        assert session_of(pid)[1] == pid
        assert session_of(delivery) == (delivery, delivery)
    finally:
        os.close(master)  # the terminal hangs up
        os.waitpid(pid, 0)
    tern.write("out/release", "")
    tern.wait_queue_empty()
    assert b"at a terminal" in tern.path("out", "delivered").read_bytes()

"""The daemon starts deliveries for its reception processes: each writes
the id of a message it accepted to the daemon's handoff pipe, except the
connection's last, which it delivers itself once the connection is over
(docs/process.md).  No queue runner runs in these tests (-bdf without
-q), so a message is delivered only if one of the two happened."""

import os
import re
import signal

from tern_helpers import (ID_RE, SLOWPIPE, STANDARD_ALIASES, delivery_of,
                          make_message, session_of, spares_of, wait_for)


def test_one_process_per_connection(tern):
    """A connection is one reception process, the daemon's child: no
    supervisor between them; the delivery is the daemon's child too."""
    tern.config()
    daemon = tern.start_daemon()
    s = tern.raw()
    s.expect("EHLO client.example", 250)

    def reception():
        kids = [int(p) for p in
                open(f"/proc/{daemon.pid}/task/{daemon.pid}/children")
                .read().split()]
        titles = {p: open(f"/proc/{p}/cmdline", "rb").read() for p in kids}
        return [p for p, t in titles.items() if b"handling incoming" in t]
    (pid,) = wait_for(reception, 10, "the reception process")
    grandchildren = open(f"/proc/{pid}/task/{pid}/children").read().split()
    assert grandchildren == []
    s.expect(f"MAIL FROM:<sender@example.net>", 250)
    s.expect(f"RCPT TO:<{tern.user}@test.example>", 250)
    s.expect("DATA", 354)
    s.send(make_message(to=f"{tern.user}@test.example") + b".\r\n")
    code, text = s.reply()
    assert code == 250, text
    tern.wait_queue_empty()
    s.expect("QUIT", 221)
    assert len(tern.mbox(tern.user)) == 1


def test_reception_across_sighup_still_hands_over(tern):
    """A reception process that started before a SIGHUP re-exec hands its
    message to the re-executed daemon through the inherited pipe: it is
    delivered at once, not left for a queue run."""
    tern.config()
    daemon = tern.start_daemon()
    s = tern.raw()
    s.expect("EHLO client.example", 250)
    s.expect("MAIL FROM:<sender@example.net>", 250)
    s.expect(f"RCPT TO:<{tern.user}@test.example>", 250)
    os.kill(daemon.pid, signal.SIGHUP)
    tern.wait_for_log(r"SIGHUP received: re-exec")
    wait_for(lambda: len(tern.mainlog().split("daemon started")) > 2, 10,
             "the re-executed daemon to start")
    assert daemon.poll() is None
    s.expect("DATA", 354)
    s.send(make_message(to=f"{tern.user}@test.example",
                        body=b"across the re-exec\n") + b".\r\n")
    code, text = s.reply()
    assert code == 250, text
    msgid = re.search(ID_RE, text).group(0)
    tern.wait_queue_empty()
    s.expect("QUIT", 221)
    assert "cannot hand the message over" not in tern.mainlog()
    assert re.search(rf"{msgid} Completed", tern.mainlog())
    (raw,) = tern.mbox(tern.user)
    assert b"across the re-exec" in raw


def send_one(s, rcpt, body):
    s.expect("MAIL FROM:<sender@example.net>", 250)
    s.expect(f"RCPT TO:<{rcpt}>", 250)
    s.expect("DATA", 354)
    s.send(make_message(to=rcpt, body=body) + b".\r\n")
    code, text = s.reply()
    assert code == 250, text


def started_session(tern):
    """A daemon with the standard configuration, a client past EHLO, and
    tern_user's address."""
    tern.config()
    tern.start_daemon()
    s = tern.raw()
    s.expect("EHLO client.example", 250)
    return s, f"{tern.user}@test.example"


def test_reception_delivers_its_last_message_itself(tern):
    """One message per connection: once the client has quit, the
    reception process delivers the message itself (docs/process.md), so
    the daemon forks one process for it, not two."""
    from tern_helpers import forks, traced_processes
    tern.config()
    daemon = tern.start_daemon()
    calls, msgid = traced_processes(tern, daemon, [f"{tern.user}@test.example"])
    trace = "\n".join(" ".join(c) for c in calls)
    assert len(forks(calls)) == 1, trace
    assert len(tern.mbox(tern.user)) == 1
    assert len(tern.deliveries(msgid)) == 1
    # the RCPT check and the delivery ask localuser about the same user
    # in the same process: passwd is read once (docs/config.md)
    passwd = [c for c in calls if c[1] == "openat" and "/etc/passwd" in c[2]]
    assert len(passwd) == 1, trace


def test_next_message_releases_the_held_one(tern):
    """A second MAIL in the same connection hands the first message to
    the daemon at once; the last one waits for the QUIT. Each is
    delivered once."""
    s, rcpt = started_session(tern)
    send_one(s, rcpt, b"first\n")
    send_one(s, rcpt, b"second\n")
    tern.wait_mbox(tern.user, 1)
    s.expect("QUIT", 221)
    s.close()
    tern.wait_mbox(tern.user, 2)
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 2
    assert len(re.findall(r" => ", tern.mainlog())) == 2


def test_quiet_client_does_not_hold_its_message(tern):
    """A client that keeps the connection open and says nothing after
    the 250 does not hold its message back: it goes to the daemon within
    a moment, and the QUIT later does not deliver it again."""
    s, rcpt = started_session(tern)
    send_one(s, rcpt, b"quiet\n")
    tern.wait_mbox(tern.user, 1, timeout=5)
    tern.wait_queue_empty()
    s.expect("NOOP", 250)
    s.expect("QUIT", 221)
    s.close()
    tern.wait_for_log(r"Completed")
    assert len(tern.mbox(tern.user)) == 1
    assert len(re.findall(r" => ", tern.mainlog())) == 1


def test_delivering_reception_frees_its_connection_slot(tern):
    """A reception process delivering its message after the connection
    ended no longer counts against smtp_accept_max: with a limit of one,
    a second client is welcome while the first message's (slow) pipe
    delivery runs."""
    from tern_helpers import RawSMTP
    tern.config(main="smtp_accept_max = 1",
                aliases="slow: |/bin/sleep 4\n")
    tern.start_daemon()
    s = tern.raw()
    s.expect("EHLO client.example", 250)
    send_one(s, "slow@test.example", b"slowly\n")
    s.expect("QUIT", 221)
    s.close()
    wait_for(lambda: any(b"delivering" in open(f"/proc/{p}/cmdline",
                                                "rb").read()
                         for p in tern.processes()), 10,
             "the delivery in the reception process")
    c = RawSMTP(tern.port)
    assert c.banner[0] == 220, c.banner
    c.expect("QUIT", 221)
    c.close()
    tern.wait_queue_empty(timeout=20)
    assert "refused" not in tern.mainlog()


def test_half_a_line_does_not_hold_the_message(tern):
    """After the 250 the client sends half a command and stops: the held
    message goes to the daemon all the same, without waiting for the
    rest of the line."""
    s, rcpt = started_session(tern)
    send_one(s, rcpt, b"half\n")
    s.send("NO")
    tern.wait_mbox(tern.user, 1, timeout=5)
    s.send("OP\r\n")
    code, text = s.reply()
    assert code == 250, text
    s.expect("QUIT", 221)
    s.close()
    tern.wait_for_log(r"Completed")
    assert len(re.findall(r" => ", tern.mainlog())) == 1


def test_daemon_reaps_and_counts_without_being_woken(tern):
    """SIGCHLD stays blocked while the daemon has children, and a
    reception that goes on to deliver sets a flag on the daemon's board
    instead of writing to its pipe (docs/process.md): neither wakes the
    daemon.  Its pass at least once a second must still reap the ended
    process and take it off the connection count, with no other
    connection to wake it."""
    tern.config()
    daemon = tern.start_daemon()
    assert tern.send(f"{tern.user}@test.example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 1

    def kids():
        """The daemon's children, zombies too, but its spare."""
        return sorted(set(int(p) for p in
                          open(f"/proc/{daemon.pid}/task/{daemon.pid}/children")
                          .read().split()) - set(spares_of(daemon.pid)))

    def title():
        return open(f"/proc/{daemon.pid}/cmdline", "rb").read()

    # the reception process ended after its delivery: reaped, not a
    # zombie left until the next connection
    wait_for(lambda: kids() == [], 5, "the ended reception to be reaped")
    wait_for(lambda: b"; 0 connections" in title(), 5,
             "the daemon to count 0 connections")


def test_delivery_leaves_the_daemons_process_group(tern):
    """A delivery process leaves the daemon's process group, and stays in
    its session (there is no terminal to leave; a session of its own
    would also be a scheduler group of its own): a SIGTERM to the group,
    as a ^C or a supervisor sends, stops the daemon, and the delivery
    still finishes."""
    tern.script("slowpipe", SLOWPIPE)
    tern.config(aliases=STANDARD_ALIASES +
                'slow: "|@DIR@/bin/slowpipe @DIR@/out"\n')
    daemon = tern.start_daemon()
    group, session = session_of(daemon.pid)
    assert tern.send("slow@test.example", subject="kill the group") == {}
    started = tern.path("out", "started")
    wait_for(started.exists, 30, "the slow delivery")
    pid = delivery_of(int(started.read_text().split()[1]))
    assert session_of(pid) == (pid, session)
    os.killpg(group, signal.SIGTERM)
    daemon.wait(15)
    tern.write("out/release", "")
    tern.wait_queue_empty()
    assert b"Subject: kill the group" in \
        tern.path("out", "delivered").read_bytes()


def test_reception_without_a_board_flag_says_so_on_the_pipe(tern):
    """smtp_accept_max = 0 (no limit) gives the daemon's board 4,096
    flags (daemon.c, BOARD_UNLIMITED).  A reception that finds none free
    tells the daemon on the handoff pipe ("-PID") that its connection is
    over (docs/process.md): with 4,096 connections held open, the next
    one's message is still delivered by its own reception, and while
    that delivery runs the daemon no longer counts it."""
    import resource
    from tern_helpers import RawSMTP
    flags = 4096
    # one socket per connection held here (root may raise the hard limit)
    want = flags + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            hard = want
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    tern.config(main="smtp_accept_max = 0\nsmtp_connect_backlog = 1024",
                aliases="slow: |/bin/sleep 4\n")
    daemon = tern.start_daemon()

    def title():
        return open(f"/proc/{daemon.pid}/cmdline", "rb").read()

    held = []
    try:
        for _ in range(flags):
            c = RawSMTP(tern.port)
            assert c.banner[0] == 220, c.banner
            held.append(c)
        wait_for(lambda: f"; {flags} connections".encode() in title(), 10,
                 f"the daemon to count {flags} connections")
        s = tern.raw()
        s.expect("EHLO client.example", 250)
        send_one(s, "slow@test.example", b"slowly\n")
        s.expect("QUIT", 221)
        s.close()
        wait_for(lambda: f"; {flags} connections".encode() in title(), 10,
                 "the last reception to be taken off the count")
        # taken off while it still runs: by its word on the pipe, not by
        # being reaped
        assert any(b"delivering" in open(f"/proc/{p}/cmdline", "rb").read()
                   for p in tern.processes()), "the delivery ended too soon"
    finally:
        for c in held:
            c.sock.close()
    tern.wait_queue_empty(timeout=30)
    wait_for(lambda: b"; 0 connections" in title(), 30,
             "the daemon to count 0 connections")
    assert re.search(r" => \|/bin/sleep 4 .*\n.* Completed", tern.mainlog())
    assert "panic" not in tern.mainlog().lower()

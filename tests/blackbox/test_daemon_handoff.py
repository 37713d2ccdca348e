"""The daemon starts deliveries for its reception processes: each writes
the id of every message it accepted to the daemon's handoff pipe
(docs/process.md).  No queue runner runs in these tests (-bdf without
-q), so a message is delivered only if the handoff reached a daemon."""

import os
import re
import signal

from tern_helpers import ID_RE, make_message, wait_for


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

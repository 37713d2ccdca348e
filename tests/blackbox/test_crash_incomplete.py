"""A reception killed in the middle of DATA (issue 9: one spool file per
message, created under its final name): the file it leaves, whose first
line is not written yet (NULs: the commit writes it), is not a message -- it is not delivered,
mailq and -bpc do not show it -- and the next queue run removes it once it
is older than 5 minutes."""

import os
import signal
import time

from tern_helpers import connection_holders, make_message, wait_for


def spool_files(tern):
    inp = tern.spool / "input"
    return sorted(inp.iterdir()) if inp.is_dir() else []


def test_reception_killed_mid_data(tern):
    tern.config()
    tern.start_daemon()
    s = tern.smtp()
    assert s.mail("sender@example.net")[0] == 250
    assert s.rcpt("alice@test.example")[0] == 250
    s.putcmd("data")
    assert s.getreply()[0] == 354
    # more than the reception's 64 KiB buffer, so that the body is being
    # written to the spool file when the process dies
    s.send(b"Subject: cut short\r\n\r\n" + b"x" * 70 + b"\r\n" +
           b"".join(b"line %06d of a body that never ends\r\n" % i
                    for i in range(6000)))
    wait_for(lambda: any(f.stat().st_size > 65536
                         for f in spool_files(tern)), 10,
             "the body to reach the spool file")
    client_port = s.sock.getsockname()[1]
    (receiver,) = wait_for(lambda: connection_holders(tern.port,
                                                      client_port),
                           10, "the reception process")
    os.kill(receiver, signal.SIGKILL)
    wait_for(lambda: receiver not in tern.processes(), 10,
             "the reception process to die")
    s.close()

    (half,) = spool_files(tern)
    assert half.name.endswith("-M")
    msgid = half.name[:-2]
    first = half.read_bytes()[:43]
    assert first == b"\0" * 43, first
    # not a message: not listed, not counted, not delivered
    assert tern.queue_ids() == []
    r = tern.run(["-bp"]).ok()
    assert msgid not in r.stdout and "error" not in r.stdout, r.stdout
    assert tern.run(["-bpc"]).ok().stdout.strip() == "0"
    assert tern.run(["-Mvh", msgid]).returncode != 0
    tern.run(["-q"]).ok()
    assert half.exists()
    assert not tern.path("mail", "alice").exists()
    assert "removed incomplete" not in tern.mainlog()

    # the daemon is not confused: the next message goes through
    assert tern.send("alice@test.example",
                     make_message(subject="after the crash")) == {}
    wait_for(lambda: tern.path("mail", "alice").exists(), 20,
             "the next message to be delivered")

    # 5 minutes later (set back), the next queue run removes it
    old = time.time() - 301
    os.utime(half, (old, old))
    tern.run(["-q"]).ok()
    assert not half.exists()
    tern.wait_for_log(rf"{msgid} removed incomplete spool file")
    tern.wait_queue_empty()
    assert spool_files(tern) == []
    (raw,) = tern.mbox("alice")
    assert b"after the crash" in raw and b"never ends" not in raw
    tern.stop()

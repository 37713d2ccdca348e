"""The daemon's spare reception process (docs/process.md): forked before
its connection comes while few connections are open, it accepts its
client itself; the daemon then forks the next one, and leaves the
listening sockets alone while a spare waits on them."""

import os
import signal
import socket
import subprocess

import pytest

from tern_helpers import (RawSMTP, children, make_message, proc_title,
                          spares_of, wait_for)

# core/daemon/daemon_int.h, LIMITS_SPARE_BELOW
SPARE_BELOW = 3


def one_spare(daemon_pid):
    def found():
        spares = spares_of(daemon_pid)
        return spares if len(spares) == 1 else None
    (pid,) = wait_for(found, 10, "a spare reception process")
    return pid


def receptions(daemon_pid):
    return [p for p in children(daemon_pid)
            if proc_title(p).startswith(b"tern: handling incoming")]


def test_spare_takes_the_next_connection(tern):
    """The process that answers a connection is the spare that waited for
    it, and another spare waits for the next one; the message goes
    through as from any reception process."""
    tern.config()
    daemon = tern.start_daemon()
    spare = one_spare(daemon.pid)
    s = tern.raw()
    s.expect("EHLO client.example", 250)
    assert wait_for(lambda: receptions(daemon.pid), 10,
                    "the reception process") == [spare]
    assert one_spare(daemon.pid) != spare
    rcpt = f"{tern.user}@test.example"
    s.expect("MAIL FROM:<sender@example.net>", 250)
    s.expect(f"RCPT TO:<{rcpt}>", 250)
    s.expect("DATA", 354)
    s.send(make_message(to=rcpt) + b".\r\n")
    assert s.reply()[0] == 250
    s.expect("QUIT", 221)
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 1
    assert "spare" not in tern.mainlog()  # nothing to say about it


def test_no_spare_while_connections_are_open(tern):
    """With SPARE_BELOW connections open the daemon keeps no spare and
    accepts the next connection itself; once they are gone a spare waits
    again."""
    tern.config()
    daemon = tern.start_daemon()
    one_spare(daemon.pid)
    held = []
    try:
        for _ in range(SPARE_BELOW):
            c = RawSMTP(tern.port)
            assert c.banner[0] == 220, c.banner
            held.append(c)
        wait_for(lambda: len(receptions(daemon.pid)) == SPARE_BELOW, 10,
                 f"{SPARE_BELOW} reception processes")
        assert spares_of(daemon.pid) == []
        # the daemon's own accept: the process is forked after the connect
        before = set(children(daemon.pid))
        with tern.smtp() as s:
            s.sendmail("sender@example.net", [f"{tern.user}@test.example"],
                       make_message())
            (new,) = set(receptions(daemon.pid)) - before
        assert spares_of(daemon.pid) == []
    finally:
        for c in held:
            c.close()
    one_spare(daemon.pid)
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_spare_ends_with_the_daemon(tern, sig):
    """A spare holds the listening sockets: when the daemon stops
    (SIGTERM) or is killed, the spare ends too, and nothing listens on
    the port any more."""
    tern.config()
    daemon = tern.start_daemon()
    spare = one_spare(daemon.pid)
    os.kill(daemon.pid, sig)
    daemon.wait(10)
    wait_for(lambda: not os.path.exists(f"/proc/{spare}"), 10,
             "the spare to end")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", tern.port), timeout=5)


def test_spare_across_sighup(tern):
    """SIGHUP re-executes the daemon, which binds its ports again: the
    spare lets them go first, and the new image forks its own."""
    tern.config()
    daemon = tern.start_daemon()
    spare = one_spare(daemon.pid)
    os.kill(daemon.pid, signal.SIGHUP)
    wait_for(lambda: tern.mainlog().count("daemon started") == 2, 10,
             "the re-executed daemon")
    wait_for(lambda: not os.path.exists(f"/proc/{spare}"), 10,
             "the old spare to end")
    assert one_spare(daemon.pid) != spare
    assert tern.send(f"{tern.user}@test.example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 1


def test_reserved_connections_with_a_spare(tern):
    """smtp_accept_max = 3 with smtp_accept_reserve = 1 keeps the third
    connection for smtp_reserve_hosts (127.0.0.1; 127.0.0.2 is not one).
    The spare takes the first two; with two open the daemon keeps none
    and judges the third itself: 421 from 127.0.0.2, 220 from 127.0.0.1."""
    tern.config(main="smtp_accept_max = 3\nsmtp_accept_reserve = 1\n"
                     "smtp_reserve_hosts = 127.0.0.1")
    daemon = tern.start_daemon()
    one_spare(daemon.pid)
    held = []
    try:
        for _ in range(2):
            c = RawSMTP(tern.port, source="127.0.0.2")
            assert c.banner[0] == 220, c.banner
            held.append(c)
        wait_for(lambda: len(receptions(daemon.pid)) == 2, 10,
                 "2 reception processes")
        assert spares_of(daemon.pid) == []
        refused = RawSMTP(tern.port, source="127.0.0.2")
        assert refused.banner[0] == 421, refused.banner
        refused.close()
        reserved = RawSMTP(tern.port)
        assert reserved.banner[0] == 220, reserved.banner
        held.append(reserved)
    finally:
        for c in held:
            c.close()
    tern.wait_for_log(r"Connection from \[127\.0\.0\.2\] refused: "
                      r"connections reserved for smtp_reserve_hosts",
                      which="reject")


def test_spare_asks_the_load_when_its_client_comes(tern):
    """smtp_load_reserve is the one limit a spare judges itself, with the
    load as it is when the client comes, not when the spare was forked:
    a load over 0 refuses 127.0.0.2 and lets 127.0.0.1, a reserved host,
    in."""
    tern.config(main="smtp_load_reserve = 0\n"
                     "smtp_reserve_hosts = 127.0.0.1")
    daemon = tern.start_daemon()
    spare = one_spare(daemon.pid)
    burn = None
    if os.getloadavg()[0] <= 0.05:  # an idle machine: make some load
        burn = subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"])
    try:
        wait_for(lambda: os.getloadavg()[0] > 0.05, 30, "a load over 0")
    finally:
        if burn is not None:
            burn.kill()
            burn.wait()
    c = RawSMTP(tern.port, source="127.0.0.2")
    assert c.banner[0] == 421, c.banner
    assert "Too much load" in c.banner[1]
    c.close()
    # the spare refused it, and ended
    wait_for(lambda: not os.path.exists(f"/proc/{spare}"), 10,
             "the spare to end")
    one_spare(daemon.pid)
    c = RawSMTP(tern.port)
    assert c.banner[0] == 220, c.banner
    c.close()
    tern.wait_for_log(r"Connection from \[127\.0\.0\.2\] refused: load "
                      r"average [0-9.]+ above smtp_load_reserve",
                      which="reject")

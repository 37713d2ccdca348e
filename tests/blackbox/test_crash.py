"""kill -9 at the worst moments loses nothing that was acknowledged."""

import os
import signal
import subprocess

from tern_helpers import (SLOWPIPE, STANDARD_ALIASES, ancestors,
                          connection_holders, make_message, split_message,
                          wait_for)


def kill9(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def release_and_queue_run(tern, started):
    """Let SLOWPIPE finish, run the queue and wait for it to empty; what
    the pipe delivered."""
    started.unlink()
    tern.write("out/release", "")
    r = tern.run(["-q"])
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    return tern.path("out", "delivered").read_bytes()


def start_with_slow_pipe(tern):
    """A daemon whose alias "slow" delivers to a pipe that waits to be
    released (SLOWPIPE), and to alice."""
    tern.script("slowpipe", SLOWPIPE)
    tern.config(aliases=STANDARD_ALIASES +
                'slow: "|@DIR@/bin/slowpipe @DIR@/out", alice\n')
    tern.start_daemon()


def send_to_slow_pipe(tern, body):
    """Send body to "slow" and wait for its pipe delivery to start;
    returns the pipe's "started" file and its pid."""
    assert tern.send("slow@test.example", make_message(body=body)) == {}
    started = tern.path("out", "started")
    wait_for(started.exists, 30, "the pipe delivery to start")
    pipe_pid, _ = map(int, started.read_text().split())
    return started, pipe_pid


def test_kill_reception_and_daemon_right_after_250(tern):
    tern.config()
    daemon = tern.start_daemon(["-odq"])      # receive only: no delivery
    body = b"acknowledged means safe\n"
    s = tern.smtp()
    assert s.mail("sender@example.net")[0] == 250
    assert s.rcpt("alice@test.example")[0] == 250
    code, text = s.data(make_message(body=body))
    assert code == 250, text
    # the connection is still open: its reception process is alive
    client_port = s.sock.getsockname()[1]
    receivers = wait_for(lambda: connection_holders(tern.port, client_port),
                         10, "the reception process")
    # it and every process between it and the daemon
    ours = set(tern.processes())
    kill9([p for r in receivers for p in ancestors(r) if p in ours])
    kill9([daemon.pid])
    daemon.wait(10)
    s.close()
    wait_for(lambda: not tern.processes(), 10, "every tern process to die")

    (msgid,) = tern.queue_ids()
    r = tern.run([], prog="mailq").ok()
    assert msgid in r.stdout and "alice@test.example" in r.stdout, r
    assert not tern.path("mail", "alice").exists()

    r = tern.run(["-q"])
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    assert split_message(raw)[1] == body
    tern.wait_completed(msgid)


def test_kill_everything_during_delivery(tern):
    start_with_slow_pipe(tern)
    started, pipe_pid = send_to_slow_pipe(tern, b"delivery interrupted\n")
    kill9(tern.processes() + [pipe_pid])
    wait_for(lambda: not tern.processes(), 10, "every process to die")
    assert not tern.path("out", "delivered").exists()

    (msgid,) = tern.queue_ids()
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"
    delivered = release_and_queue_run(tern, started)
    assert delivered.count(b"delivery interrupted") == 1, delivered
    # alice was delivered to either before the kill or after: once only
    assert len(tern.mbox("alice")) == 1
    tern.wait_completed(msgid)


def test_kill_local_submission_before_end_keeps_nothing(tern):
    """The other half of the contract: a message never acknowledged leaves
    no trace (no half message on the spool, nothing delivered)."""
    tern.config()
    p = tern.popen(["-i", "alice@test.example"], prog="sendmail",
                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    p.stdin.write(b"Subject: cut short\n\npartial body\n")
    p.stdin.flush()
    wait_for(lambda: tern.spool.exists(), 10, "the spool to be opened")
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    assert tern.queue_ids() == []
    assert tern.run(["-q"]).returncode == 0
    assert not tern.path("mail", "alice").exists()


def test_kill_reception_delivering_its_parked_message(tern):
    """A reception that delivers its own message keeps it in its pool/
    file, with no name in input/ (docs/spool.md, "Parked messages").
    Killed there, it leaves a committed message in pool/ that no process
    holds: the next queue run moves it to input/ and delivers it, once."""
    start_with_slow_pipe(tern)
    # a first message fills the pool with a file for the second
    assert tern.send("bob@test.example", make_message()) == {}
    tern.wait_queue_empty()
    started, pipe_pid = send_to_slow_pipe(tern, b"parked and killed\n")
    (msgid,) = tern.parked_ids()
    assert not list((tern.spool / "input").iterdir())
    # mailq lists it all the same
    r = tern.run([], prog="mailq").ok()
    assert f"{msgid} <sender@example.net> *** being delivered from " \
        "pool/ ***" in r.stdout, r.stdout
    assert "slow@test.example" in r.stdout, r.stdout
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"
    kill9(tern.processes() + [pipe_pid])
    wait_for(lambda: not tern.processes(), 10, "every process to die")
    assert tern.queue_ids() == [msgid]
    r = tern.run(["-bp"]).ok()
    assert f"{msgid} <sender@example.net> *** left in pool/: the next " \
        "queue run delivers it ***" in r.stdout, r.stdout
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"

    delivered = release_and_queue_run(tern, started)
    assert tern.parked_ids() == []
    tern.wait_for_log(rf"{msgid} spool: recovered from \S+/pool/\d+")
    assert delivered.count(b"parked and killed") == 1, delivered
    assert len(tern.mbox("alice")) == 1
    tern.wait_completed(msgid)

"""Started by root: the process that talks SMTP runs as tern_user, the
spool belongs to tern_user, local deliveries run as the recipient (never as
root).  Root only: the rest of the suite runs tern rootless."""

import os
import pwd

import pytest

from tern_helpers import IS_ROOT, connection_holders, ensure_user, \
    make_message, proc_ids, split_message, wait_for

pytestmark = pytest.mark.skipif(
    not IS_ROOT, reason="starts tern as root: run the tests as root (CI does)")


@pytest.fixture
def recipients():
    return [ensure_user(n, home=f"/home/{n}") for n in ("terntest1",
                                                          "terntest2")]


def rootmode(tern):
    """The standard config (tern_user = terntest), mailboxes in a
    sticky world-writable directory like /var/mail."""
    tern.config()
    os.chmod(tern.path("mail"), 0o1777)


def test_daemon_drops_to_tern_user_after_binding(tern, recipients):
    """The daemon is started by root and binds its port, then runs as
    tern_user; root is kept only as the saved set-user-id it needs to
    start deliveries as recipients."""
    rootmode(tern)
    daemon = tern.start_daemon(as_user=False)
    tu = pwd.getpwnam(tern.user)
    uid = proc_ids(daemon.pid, "Uid")
    assert uid[:2] == (tu.pw_uid, tu.pw_uid), f"daemon Uid = {uid}"
    assert uid[3] == tu.pw_uid, f"daemon Uid = {uid}"
    assert proc_ids(daemon.pid, "Gid")[:2] == (tu.pw_gid, tu.pw_gid)
    st = os.stat(tern.spool / "tern-daemon.pid")
    assert st.st_uid == tu.pw_uid


def test_reception_runs_as_tern_user(tern, recipients):
    rootmode(tern)
    tern.start_daemon(as_user=False)
    tu = pwd.getpwnam(tern.user)
    with tern.smtp() as s:
        client_port = s.sock.getsockname()[1]
        rec = wait_for(lambda: connection_holders(tern.port, client_port),
                       10, "the reception process")
        for pid in rec:
            uid = proc_ids(pid, "Uid")
            gid = proc_ids(pid, "Gid")
            assert uid[:2] == (tu.pw_uid, tu.pw_uid), \
                f"reception process {pid} Uid = {uid}"
            assert gid[:2] == (tu.pw_gid, tu.pw_gid), \
                f"reception process {pid} Gid = {gid}"
            assert uid[2] == tu.pw_uid, \
                f"reception process {pid} keeps a saved uid {uid[2]}"
            assert uid[3] == tu.pw_uid
        assert s.noop()[0] == 250


def test_local_deliveries_run_as_recipient(tern, recipients):
    rootmode(tern)
    tern.start_daemon(as_user=False)
    rcpts = [f"{pw.pw_name}@test.example" for pw in recipients]
    assert tern.send(rcpts, make_message(to=", ".join(rcpts),
                                         body=b"as you\n")) == {}
    tern.wait_queue_empty()
    for pw in recipients:
        box = tern.path("mail", pw.pw_name)
        st = os.stat(box)
        assert st.st_uid == pw.pw_uid, \
            f"{box} belongs to uid {st.st_uid}, want {pw.pw_uid} ({pw.pw_name})"
        assert st.st_uid != 0
        (raw,) = tern.mbox(pw.pw_name)
        assert split_message(raw)[1] == b"as you\n"


def test_spool_belongs_to_tern_user_and_q_as_root(tern, recipients):
    rootmode(tern)
    tern.start_daemon(["-odq"], as_user=False)
    rcpt = f"{recipients[0].pw_name}@test.example"
    assert tern.send(rcpt, make_message(to=rcpt)) == {}
    (msgid,) = tern.queue_ids()
    tu = pwd.getpwnam(tern.user)
    for root, dirs, files in os.walk(tern.spool / "input"):
        for n in files:
            st = os.stat(os.path.join(root, n))
            assert st.st_uid == tu.pw_uid, f"{n} belongs to uid {st.st_uid}"
    tern.stop()
    # a queue run started by root delivers as the recipient too
    r = tern.run(["-q"], as_user=False)
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    st = os.stat(tern.path("mail", recipients[0].pw_name))
    assert st.st_uid == recipients[0].pw_uid


def test_sighup_reexec_rebinds_and_drops_again(tern, recipients):
    """SIGHUP re-executes the daemon, which needs root back to bind."""
    import signal
    from tern_helpers import listening
    rootmode(tern)
    daemon = tern.start_daemon(as_user=False)
    tu = pwd.getpwnam(tern.user)
    os.kill(daemon.pid, signal.SIGHUP)
    tern.wait_for_log(r"SIGHUP received: re-exec")
    wait_for(lambda: len(tern.mainlog().split("daemon started")) > 2, 10,
             "the re-executed daemon to start")
    wait_for(lambda: listening(tern.port), 10, "the port again")
    assert daemon.poll() is None
    assert proc_ids(daemon.pid, "Uid")[:2] == (tu.pw_uid, tu.pw_uid)
    rcpt = f"{recipients[0].pw_name}@test.example"
    assert tern.send(rcpt, make_message(to=rcpt, body=b"after hup\n")) == {}
    tern.wait_queue_empty()
    (raw,) = tern.mbox(recipients[0].pw_name)
    assert split_message(raw)[1] == b"after hup\n"

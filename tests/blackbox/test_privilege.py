"""Started by root: the process that talks SMTP runs as tern_user, the
spool belongs to tern_user, local deliveries run as the recipient (never as
root).  Root only: the rest of the suite runs tern rootless."""

import os
import pwd
import re

import pytest

from tern_helpers import IS_ROOT, connection_holders, ensure_user, \
    forks, make_message, proc_ids, split_message, traced_processes, \
    wait_for

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


@pytest.mark.parametrize("by", ["name", "uid"])
def test_never_users_by_name_and_by_uid(tern, recipients, by):
    """never_users holds names and uids (Exim's uid list, looked up when
    the configuration is read): a delivery that would run as one of them
    is deferred, and says why; the message's other recipient is
    delivered."""
    refused, other = recipients
    listed = refused.pw_name if by == "name" else str(refused.pw_uid)
    rootmode(tern)
    tern.config(main=f"never_users = root : {listed}")
    tern.start_daemon(as_user=False)
    rcpts = [f"{pw.pw_name}@test.example" for pw in (refused, other)]
    assert tern.send(rcpts, make_message(to=", ".join(rcpts))) == {}
    why = (f"== {refused.pw_name}@test.example .*delivery as "
           f"{refused.pw_name} \\(uid {refused.pw_uid}\\) not permitted "
           f"by never_users")
    wait_for(lambda: re.search(why, tern.mainlog()), 20,
             f"the deferral of {refused.pw_name}")
    tern.wait_mbox(other.pw_name)
    assert not tern.path("mail", refused.pw_name).exists()
    assert len(tern.queue_ids()) == 1


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


def trace_text(calls):
    return "\n".join(" ".join(c) for c in calls)


def deliveries_logged_once(tern, msgid):
    """Routing and delivery lines of msgid appear once each: a reception
    process that found the message needs root wrote nothing."""
    lines = [l.split(" ", 3)[3] for l in tern.log_lines(msgid)]
    assert len(lines) == len(set(lines)), "\n".join(lines)
    assert sum(1 for l in lines if l == "Completed") == 1, "\n".join(lines)


def test_reception_delivers_its_message_to_tern_user_itself(tern,
                                                            recipients):
    """Started as root, a message whose delivery needs no root (here:
    to tern_user) is delivered by its reception process once the client
    has quit: one process for the message, which has had no root since
    before it read the client's first byte."""
    rootmode(tern)
    daemon = tern.start_daemon(as_user=False)
    tu = pwd.getpwnam(tern.user)
    calls, msgid = traced_processes(tern, daemon, [f"{tern.user}@test.example"])
    assert len(forks(calls)) == 1, trace_text(calls)
    (reception,) = {c[2].rsplit("= ", 1)[1] for c in forks(calls)}
    box = str(tern.path("mail", tern.user))
    (writer,) = {p for p, c, a in calls if c == "openat" and f'"{box}"' in a}
    assert writer == reception, trace_text(calls)
    drops = [a for p, c, a in calls if p == writer and c == "setresuid"]
    assert drops and drops[-1].startswith(
        f"{tu.pw_uid}, {tu.pw_uid}, {tu.pw_uid})"), drops
    assert os.stat(box).st_uid == tu.pw_uid
    assert len(tern.mbox(tern.user)) == 1
    deliveries_logged_once(tern, msgid)


def test_delivery_process_runs_appendfile_itself_for_tern_user(tern,
                                                              recipients):
    """With a forwardfile director (it reads users' files as the user,
    which needs root), reception processes leave every delivery to the
    daemon. A delivery as tern_user then runs appendfile
    (TERN_TRANSPORT_LOCAL_HERE) in the delivery process, which first
    gives up root for good: two processes, not three."""
    from tern_helpers import STANDARD_CONFIG
    old = "localuser:\n  driver = localuser\n"
    assert old in STANDARD_CONFIG
    tern.config(STANDARD_CONFIG.replace(old, "userforward:\n"
        "  driver = forwardfile\n  file = .forward\n  no_verify\n\n" + old))
    os.chmod(tern.path("mail"), 0o1777)
    daemon = tern.start_daemon(as_user=False)
    tu = pwd.getpwnam(tern.user)
    calls, msgid = traced_processes(tern, daemon, [f"{tern.user}@test.example"])
    assert len(forks(calls)) == 2, trace_text(calls)
    assert all(c[0] == str(daemon.pid) for c in forks(calls)), \
        trace_text(calls)
    box = str(tern.path("mail", tern.user))
    (writer,) = {p for p, c, a in calls if c == "openat" and f'"{box}"' in a}
    drops = [a for p, c, a in calls if p == writer and c == "setresuid"]
    assert drops and drops[-1].startswith(
        f"{tu.pw_uid}, {tu.pw_uid}, {tu.pw_uid})"), drops
    assert os.stat(box).st_uid == tu.pw_uid
    assert len(tern.mbox(tern.user)) == 1


def test_delivery_as_another_user_goes_to_the_daemon(tern, recipients):
    """The reception process routes the message, finds the delivery needs
    another uid, and hands it to the daemon having written nothing; the
    daemon's delivery process forks the transport child."""
    rootmode(tern)
    daemon = tern.start_daemon(as_user=False)
    pw = recipients[0]
    calls, msgid = traced_processes(tern, daemon,
                                    [f"{pw.pw_name}@test.example"])
    assert len(forks(calls)) == 3, trace_text(calls)
    box = tern.path("mail", pw.pw_name)
    assert os.stat(box).st_uid == pw.pw_uid
    assert len(tern.mbox(pw.pw_name)) == 1
    deliveries_logged_once(tern, msgid)


def test_message_for_another_user_goes_over_in_its_pool_file(tern,
                                                             recipients):
    """The reception hands the daemon the message's pool/ slot with its
    id ("ID SLOT"), not a name in input/: its file is never renamed,
    linked or removed.  The daemon's delivery process takes it where it
    lies (after the reception has let it go), the transport child fsyncs
    the mailbox, and then the file is emptied where it is for the next
    reception; nothing is left in input/."""
    rootmode(tern)
    daemon = tern.start_daemon(as_user=False)
    pw = recipients[0]
    rcpt = f"{pw.pw_name}@test.example"
    assert tern.send([rcpt], make_message(to=rcpt)) == {}  # fills pool/
    tern.wait_queue_empty()
    tern.wait_for_log(r"Completed")
    os.truncate(tern.path("log", "mainlog"), 0)
    calls, msgid = traced_processes(
        tern, daemon, [rcpt],
        also=",rename,renameat,renameat2,link,linkat,unlink,unlinkat,"
             "fsync,fdatasync,pwrite64")
    spool = str(tern.spool)
    moves = [c for c in calls if c[1].startswith(("rename", "link", "unlink"))
             and spool in c[2]]
    assert moves == [], trace_text(calls)
    assert len(forks(calls)) == 3, trace_text(calls)
    assert len(tern.mbox(pw.pw_name)) == 2
    assert list((tern.spool / "input").glob("*-M")) == []
    deliveries_logged_once(tern, msgid)
    # One longer than a pool file (it grew its own) goes over the same way.
    big = make_message(to=rcpt, body=("y" * 70 + "\n") * 2000)
    assert tern.send([rcpt], big) == {}
    tern.wait_queue_empty()
    wait_for(lambda: len(tern.mbox(pw.pw_name)) == 3, 20,
             "the long message's delivery")


def test_tern_user_among_other_recipients(tern, recipients):
    """With other local recipients left, the delivery process keeps its
    saved root: every mailbox belongs to its own user."""
    rootmode(tern)
    tern.start_daemon(as_user=False)
    users = [recipients[0], pwd.getpwnam(tern.user), recipients[1]]
    rcpts = [f"{pw.pw_name}@test.example" for pw in users]
    assert tern.send(rcpts, make_message(to=", ".join(rcpts))) == {}
    tern.wait_queue_empty()
    for pw in users:
        box = tern.path("mail", pw.pw_name)
        assert os.stat(box).st_uid == pw.pw_uid, pw.pw_name
        assert len(tern.mbox(pw.pw_name)) == 1
    assert "cannot change" not in tern.mainlog()


def test_bounce_after_root_given_up_is_started_by_the_daemon(tern,
                                                             recipients):
    """The reception process delivered to tern_user itself, without
    root; the bounce it writes for a failed recipient goes to a local
    user with another uid, which needs root: the daemon starts that
    delivery (handoff pipe), at once and without a queue run."""
    tern.config(main="receiver_verify = false",
                aliases="gone: :fail: no longer here\n")
    os.chmod(tern.path("mail"), 0o1777)
    daemon = tern.start_daemon(as_user=False)
    sender = recipients[0]
    calls, msgid = traced_processes(
        tern, daemon, [f"{tern.user}@test.example", "gone@test.example"],
        sender=f"{sender.pw_name}@test.example")
    tu = pwd.getpwnam(tern.user)
    assert os.stat(tern.path("mail", tern.user)).st_uid == tu.pw_uid
    (bounce,) = tern.wait_mbox(sender.pw_name)
    # the reception process delivers to tern_user itself; the bounce's
    # delivery is started by the daemon, with its transport child for
    # the sender
    trace = trace_text(calls)
    assert len(forks(calls)) == 3, trace
    assert len([c for c in forks(calls) if c[0] == str(daemon.pid)]) == 2, \
        trace
    (bounce,) = tern.wait_mbox(sender.pw_name)
    assert b"gone@test.example" in bounce and b"no longer here" in bounce
    assert os.stat(tern.path("mail", sender.pw_name)).st_uid == \
        sender.pw_uid
    log = tern.mainlog()
    assert "cannot change" not in log and "cannot hand" not in log, log


def test_initgroups_keeps_the_transport_child(tern, recipients):
    """initgroups gives the transport the user's supplementary groups,
    which neither the reception nor the delivery process has: the
    reception hands the message on, the child is forked."""
    from tern_helpers import STANDARD_CONFIG
    old = "local_mbox:\n  driver = appendfile\n"
    assert old in STANDARD_CONFIG
    tern.config(STANDARD_CONFIG.replace(old, old + "  initgroups\n"))
    os.chmod(tern.path("mail"), 0o1777)
    daemon = tern.start_daemon(as_user=False)
    calls, msgid = traced_processes(tern, daemon, [f"{tern.user}@test.example"])
    assert len(forks(calls)) == 3, trace_text(calls)
    assert len(tern.mbox(tern.user)) == 1
    deliveries_logged_once(tern, msgid)



def test_driver_log_lines_kept_back_when_handing_over(tern, recipients):
    """A director's own log line (core->log) written while the reception
    process routed the message is kept back with the rest: the message
    needs root (another uid), so the daemon's delivery routes it again,
    and the line is in the log once."""
    from tern_helpers import STANDARD_CONFIG
    old = "  pipe_transport = address_pipe\n"
    assert old in STANDARD_CONFIG
    pw = recipients[0]
    tern.config(STANDARD_CONFIG.replace(old, old + "  skip_syntax_errors\n"),
                aliases=f"mixed: {pw.pw_name}@test.example, x@\n")
    os.chmod(tern.path("mail"), 0o1777)
    tern.start_daemon(as_user=False)
    assert tern.send("mixed@test.example",
                     make_message(to="mixed@test.example")) == {}
    tern.wait_queue_empty()
    tern.wait_mbox(pw.pw_name)
    log = tern.mainlog()
    (msgid,) = tern.arrivals()
    # (the reception's RCPT check logs it too, without the message id)
    assert len(re.findall(re.escape(msgid) + r" director system_aliases: "
                          r"syntax error .*rest of list skipped", log)) \
        == 1, log
    assert len(re.findall(r" => ", log)) == 1, log

"""A full spool (issue 4): on a small tmpfs, MAIL gets 452 once
check_spool_space cannot be met, a message that fills the disk during
DATA gets 451/452 and leaves nothing behind, and every message accepted
before is delivered once there is room again."""

import os
import smtplib
import subprocess

import pytest

from tern_helpers import IS_ROOT, make_message

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="mounting a tmpfs "
                                "needs root (CI runs the tests as root)")


def mount_spool(tern, size):
    tern.spool.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0750",
                    "tern-test-spool", str(tern.spool)], check=True)
    tern.own(tern.spool)


def spool_leftovers(tern):
    inp = tern.spool / "input"
    return sorted(n for n in os.listdir(inp) if n.endswith(".tmp")) \
        if inp.exists() else []


@pytest.fixture
def full_tern(tern):
    mount_spool(tern, "2m")
    try:
        yield tern
    finally:
        try:
            tern.stop(timeout=5)
        except AssertionError:
            pass
        tern.kill_all()
        subprocess.run(["umount", "-l", str(tern.spool)])


def test_full_spool_452_and_nothing_lost(full_tern):
    tern = full_tern
    tern.config(main="check_spool_space = 600K")
    tern.start_daemon(["-odq"])
    body = (b"0123456789abcdef" * 63 + b"\n") * 100      # about 100K
    accepted, refused = [], None
    for i in range(40):
        s = tern.smtp()
        code, text = s.mail("sender@example.net")
        if code != 250:
            refused = (code, text)
            s.close()
            break
        assert s.rcpt("alice@test.example")[0] == 250
        code, text = s.data(make_message(subject=f"m{i}", body=body))
        assert code == 250, (code, text)
        accepted.append(i)
        s.quit()
    assert refused is not None, "the spool never filled"
    assert refused[0] == 452 and b"4.3.1" in refused[1], refused
    assert 5 <= len(accepted) < 20, accepted
    assert len(tern.queue_ids()) == len(accepted)
    assert tern.wait_for_log(r"rejected MAIL FROM:<sender@example.net>: "
                             r"spool space check failed", which="reject")
    # MAIL with a SIZE= that does not fit is refused at once, too
    s = tern.smtp()
    code, _ = s.mail("sender@example.net", ["SIZE=1000"])
    s.close()
    assert code == 452

    # without the check, the disk fills during DATA: 451/452, no remains
    tern.stop()
    tern.config(main="check_spool_space = 0")
    tern.start_daemon(["-odq"])
    s = tern.smtp()
    assert s.mail("sender@example.net")[0] == 250
    assert s.rcpt("alice@test.example")[0] == 250
    try:
        code, text = s.data(make_message(subject="too big",
                                         body=body * 30))
    except smtplib.SMTPServerDisconnected:
        code, text = None, b""
    s.close()
    assert code in (451, 452), (code, text)
    assert spool_leftovers(tern) == []
    assert len(tern.queue_ids()) == len(accepted)

    # room again: every accepted message is delivered
    subprocess.run(["mount", "-o", "remount,size=64m", str(tern.spool)],
                   check=True)
    tern.run(["-q"]).ok()
    tern.wait_queue_empty()
    subjects = sorted(m.split(b"Subject: ")[1].split(b"\n")[0]
                      for m in tern.mbox("alice"))
    assert subjects == sorted(f"m{i}".encode() for i in accepted)

"""The order of the durable steps of one local delivery, seen by strace
on the daemon and every process it starts (issue 9: "a 250 only after
the spool is fsynced, and the mailbox fsynced before the spool file is
removed", at most two fsyncs where the file system allows it):

  fdatasync(input/ID-M)  before  the 250 that acknowledges the message
  fsync(maildir tmp/X)   before  rename into new/
  fsync(new/)            only where the file system needs it (below)
  all of those           before  unlink(input/ID-M)
"""

import os
import re
import subprocess
from pathlib import Path

from tern_helpers import make_message, wait_for

SYNCS = ("fsync", "fdatasync")


def ext4_has_journal(path):
    st = os.stat(path)
    link = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    try:
        name = os.path.basename(os.readlink(link))
        task = Path(f"/sys/fs/ext4/{name}/journal_task").read_text()
    except OSError:
        return False
    return task.strip()[:1].isdigit()


def maildir_dir_sync_expected(path):
    """Does Tern fsync new/ on this file system?  (maildir.c: not on
    ext4 with a journal, xfs, btrfs or tmpfs; elsewhere yes.)"""
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(path)],
                            capture_output=True, text=True).stdout.strip()
    if fstype in ("xfs", "btrfs", "tmpfs", "ramfs"):
        return False
    if fstype.startswith("ext"):
        return not ext4_has_journal(path)
    return True


def traced_delivery(tern, rcpt):
    """Send one message while strace follows the daemon; return the
    syscall lines (pid, call, text) in order, and the message's id."""
    tern.config()
    daemon = tern.start_daemon()
    out = tern.path("out", "strace.txt")
    st = subprocess.Popen(
        ["strace", "-f", "-y", "-qq", "-s", "200", "-o", str(out),
         "-e", "trace=fsync,fdatasync,rename,renameat2,unlink,unlinkat,"
               "write,sendto",
         "-p", str(daemon.pid)],
        stderr=subprocess.DEVNULL)
    try:
        # strace prints nothing when attached with -qq: wait until the
        # daemon is traced (TracerPid in its status).
        def traced():
            status = Path(f"/proc/{daemon.pid}/status").read_text()
            return re.search(r"^TracerPid:\s+[1-9]", status, re.M)
        wait_for(traced, 20, "strace to attach")
        assert tern.send(rcpt, make_message(to=rcpt)) == {}
        tern.wait_queue_empty()
        tern.wait_for_log(r"Completed")
    finally:
        st.terminate()
        st.wait()
    ids = re.findall(r"^\S+ \S+ (\S+) <= ", tern.mainlog(), re.M)
    assert len(ids) == 1, tern.mainlog()
    lines = []
    for line in out.read_text(errors="replace").splitlines():
        m = re.match(r"(\d+)\s+(\w+)\((.*)$", line)
        if m:
            lines.append((m.group(1), m.group(2), m.group(3)))
    return lines, ids[0]


def index(lines, pred, what):
    for i, line in enumerate(lines):
        if pred(*line):
            return i
    raise AssertionError(f"no {what} in the trace:\n" +
                         "\n".join(" ".join(x) for x in lines))


def test_local_delivery_durable_order_and_fsync_count(tern):
    rcpt = f"{tern.user}@maildir.example"
    lines, msgid = traced_delivery(tern, rcpt)
    spool = f"input/{msgid}-M>"
    mdir = tern.path("maildir", tern.user)

    commit = index(lines, lambda p, c, a: c in SYNCS and spool in a,
                   "fdatasync of the spool file")
    ack = index(lines, lambda p, c, a: c in ("write", "sendto") and
                "socket:" in a and re.search(r'"250 .*id=' + msgid, a),
                "250 acknowledging the message")
    tmp_sync = index(lines, lambda p, c, a: c in SYNCS and
                     f"{mdir}/tmp/" in a, "fsync of the Maildir file")
    moved = index(lines, lambda p, c, a: c.startswith("rename") and
                  f"{mdir}/new/" in a, "rename into new/")
    removed = index(lines, lambda p, c, a: c.startswith("unlink") and
                    f"input/{msgid}-M" in a, "removal of the spool file")
    assert commit < ack, "the 250 came before the spool was fsynced"
    assert tmp_sync < moved < removed

    new_sync = [i for i, (p, c, a) in enumerate(lines)
                if c in SYNCS and f"<{mdir}/new>" in a]
    syncs = [x for x in lines if x[1] in SYNCS]
    if maildir_dir_sync_expected(mdir):
        assert len(new_sync) == 1 and moved < new_sync[0] < removed, syncs
        assert len(syncs) == 3, syncs
    else:
        assert new_sync == [], syncs
        assert len(syncs) == 2, syncs

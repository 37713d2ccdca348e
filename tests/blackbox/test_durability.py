"""The order of the durable steps of one local delivery, seen by strace
on the daemon and every process it starts (issue 9: "a 250 only after
the spool is fsynced, and the mailbox fsynced before the spool file is
removed", at most two fsyncs where the file system allows it):

  fdatasync(input/ID-M)  before  the 250 that acknowledges the message
  and then, where new/ must be fsynced (the file system, and whether
  the spool shares it: maildir_dir_sync_expected below):
    fsync(maildir tmp/X)   before  rename into new/  before  fsync(new/)
  else (a journal that commits metadata in order, the spool on it too):
    sync_file_range(X)     before  link into new/    before  fsync(new/X)
    (X written without a name in tmp/, O_TMPFILE: no rename)
  all of those           before  unlink(input/ID-M), or its rename to
                                 pool/ (emptied for reuse, docs/spool.md)
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tern_helpers import (SANITIZE, SCALE, LoopExt4, LoopFs, make_message,
                          standard_config_under, strace_daemon_pid, wait_for)

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


def maildir_dir_sync_expected(path, spool):
    """Does Tern fsync new/ here?  (maildir.c: not on tmpfs; not on ext4
    with a journal or xfs when the spool is on the same file system;
    elsewhere yes.)"""
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(path)],
                            capture_output=True, text=True).stdout.strip()
    if fstype in ("tmpfs", "ramfs"):
        return False
    if os.stat(path).st_dev != os.stat(spool).st_dev:
        return True
    if fstype == "xfs":
        return False
    if fstype.startswith("ext"):
        return not ext4_has_journal(path)
    return True


def strace_daemon(tern, out, args, before=None):
    """Start the daemon and strace -f on it (args: what to trace) into
    out; returns the strace process once it is attached.  before: called
    with the daemon running, before strace attaches."""
    daemon = tern.start_daemon()
    if before is not None:
        before()
    return strace_daemon_pid(daemon.pid, out, args)[0]


def traced_delivery(tern, rcpt, config=None, warm=False, more=""):
    """Send one message while strace follows the daemon; return the
    syscall lines (pid, call, text) in order, and the message's id.
    warm: one message delivered before strace attaches, whose file the
    traced one takes from pool/.  more: calls to trace as well."""
    tern.config(config)
    out = tern.path("out", "strace.txt")

    def first():
        assert tern.send(rcpt, make_message(to=rcpt)) == {}
        tern.wait_queue_empty()
        tern.wait_for_log(r"Completed")
    st = strace_daemon(tern, out, ["-y", "-s", "200", "-e",
                                   "trace=fsync,fdatasync,sync_file_range,"
                                   "rename,renameat2,linkat,unlink,"
                                   "unlinkat,write,sendto" + more],
                       before=first if warm else None)
    try:
        assert tern.send(rcpt, make_message(to=rcpt)) == {}
        tern.wait_queue_empty()
        wait_for(lambda: tern.mainlog().count(" Completed") == 1 + warm,
                 30, "the delivery to complete")
    finally:
        st.terminate()
        st.wait()
    ids = re.findall(r"^\S+ \S+ (\S+) <= ", tern.mainlog(), re.M)[warm:]
    assert len(ids) == 1, tern.mainlog()
    return strace_lines(out), ids[0]


def strace_lines(out, resumed=False):
    """strace -f output as (pid, call, text) in order.  resumed: also the
    "<... call resumed>) = result" ends of calls that were interrupted
    by another process's line (text ") = result")."""
    pat = (r"(\d+)\s+(?:<\.\.\. )?(\w+)(?: resumed>|\()(.*)$" if resumed
           else r"(\d+)\s+(\w+)\((.*)$")
    lines = []
    for line in out.read_text(errors="replace").splitlines():
        m = re.match(pat, line)
        if m:
            lines.append(m.groups())
    return lines


def index(lines, pred, what):
    for i, line in enumerate(lines):
        if pred(*line):
            return i
    raise AssertionError(f"no {what} in the trace:\n" +
                         "\n".join(" ".join(x) for x in lines))


def removal(msgid):
    """The spool file's end: unlinked, or renamed to pool/ for reuse."""
    return lambda p, c, a: f"input/{msgid}-M" in a and (
        c.startswith("unlink") or (c.startswith("rename") and "/pool" in a))


def check_local_order(tern, lines, msgid, mdir, spool_dir):
    spool = f"input/{msgid}-M>"
    commit = index(lines, lambda p, c, a: c in SYNCS and spool in a,
                   "fdatasync of the spool file")
    ack = index(lines, lambda p, c, a: c in ("write", "sendto") and
                "socket:" in a and re.search(r'"250 .*id=' + msgid, a),
                "250 acknowledging the message")
    moved = index(lines, lambda p, c, a: (c.startswith("rename") or
                                          c == "linkat") and
                  f"{mdir}/new/" in a, "rename or link into new/")
    renamed = lines[moved][1].startswith("rename")
    removed = index(lines, removal(msgid), "removal of the spool file")
    assert commit < ack, "the 250 came before the spool was fsynced"

    new_sync = [i for i, (p, c, a) in enumerate(lines)
                if c in SYNCS and f"<{mdir}/new>" in a]
    syncs = [x for x in lines if x[1] in SYNCS]
    if maildir_dir_sync_expected(mdir, spool_dir):
        tmp_sync = index(lines, lambda p, c, a: c in SYNCS and
                         f"{mdir}/tmp/" in a, "fsync of the Maildir file")
        assert renamed, "new/ is fsynced: the named file is renamed"
        assert tmp_sync < moved < removed
        assert len(new_sync) == 1 and moved < new_sync[0] < removed, syncs
        assert len(syncs) == 3, syncs
    else:
        # The data are written out before the name appears; the file's
        # fsync after the link commits both, before the spool file goes.
        # The file has no name before: linked from /proc/self/fd, never
        # renamed (a rename between directories takes the file system's
        # rename lock, docs/config.md).
        assert not renamed, lines[moved]
        fd = re.search(r'"/proc/self/fd/(\d+)"', lines[moved][2])
        assert fd, lines[moved]
        written = index(lines, lambda p, c, a: c == "sync_file_range" and
                        f"{mdir}/tmp/" in a and
                        "SYNC_FILE_RANGE_WAIT_AFTER" in a,
                        "sync_file_range of the file, waited for")
        # fsync, not fdatasync: the link changed only the inode's link
        # count and ctime, which an fdatasync would not commit.
        # (strace may still show the fd's path from before the link.)
        file_sync = index(lines, lambda p, c, a: c == "fsync" and
                          p == lines[moved][0] and
                          a.startswith(fd.group(1) + "<") and
                          f"{mdir}/" in a, "fsync of the file in new/")
        assert written < moved < file_sync < removed, lines
        assert new_sync == [], syncs
        assert len(syncs) == 2, syncs
        assert not any(c.startswith("unlink") and f"{mdir}/tmp/" in a
                       for p, c, a in lines), "a name in tmp/ was removed"


def test_local_delivery_durable_order_and_fsync_count(tern):
    rcpt = f"{tern.user}@maildir.example"
    lines, msgid = traced_delivery(tern, rcpt)
    check_local_order(tern, lines, msgid, tern.path("maildir", tern.user),
                      tern.spool)


def test_parked_message_keeps_its_pool_name(tern):
    """A message whose file comes from pool/ and whose reception
    delivers it stays pool/N from its first byte to its emptying
    (docs/spool.md, "Parked messages"): no rename, link or unlink of a
    spool file at all; pool/N fdatasynced before the 250; the mailbox
    fsynced before pool/N is emptied (its first line "not committed",
    then zeros) for the next reception."""
    rcpt = f"{tern.user}@maildir.example"
    mdir = tern.path("maildir", tern.user)
    lines, msgid = traced_delivery(tern, rcpt, warm=True, more=",pwrite64")
    pool = re.compile(r"/spool/pool/\d+>")
    commit = index(lines, lambda p, c, a: c in SYNCS and pool.search(a),
                   "fdatasync of the pool file")
    ack = index(lines, lambda p, c, a: c in ("write", "sendto") and
                "socket:" in a and re.search(r'"250 .*id=' + msgid, a),
                "250 acknowledging the message")
    mailbox = [i for i, (p, c, a) in enumerate(lines)
               if c in SYNCS and str(mdir) in a]
    marker = f'"{msgid}-M {"0" * 16}\\n"'
    emptied = [i for i, (p, c, a) in enumerate(lines)
               if c == "pwrite64" and pool.search(a) and marker in a]
    assert commit < ack, "the 250 came before the spool was fsynced"
    # the marker is written when the file is taken, and when it is emptied
    assert len(emptied) == 2 and emptied[0] < commit, emptied
    assert mailbox and ack < mailbox[0] and mailbox[-1] < emptied[1], lines
    moves = [x for x in lines if x[1] in ("rename", "renameat2", "linkat",
                                        "unlink", "unlinkat") and
             "/spool/" in x[2]]
    assert moves == [], moves
    syncs = [x for x in lines if x[1] in SYNCS]
    assert len(syncs) == 1 + len(mailbox) and len(mailbox) in (1, 2), syncs


@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs"])
def test_local_delivery_order_with_the_spool_on_the_same_journal(
        tern, tmp_path, fstype):
    """Spool and Maildirs on one journaled ext4 (this machine's own root
    may have no journal), or one xfs: new/ is not fsynced; the file's
    fsync after the link commits the link, before the spool file is
    emptied for the next message (test_power_cut.py shows why it must):
    two fsyncs.  On btrfs, whose fsync log may replay the spool file's
    removal without the link, new/ is fsynced: three (docs/config.md,
    "Maildir durability")."""
    fs = LoopFs(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid),
                fstype=fstype)
    try:
        if fstype == "ext4":
            assert ext4_has_journal(fs.mnt)
        lines, msgid = traced_delivery(tern, f"{tern.user}@maildir.example",
                                       standard_config_under("fs"))
        spool = tern.path("fs", "spool")
        mdir = tern.path("fs", "maildir", tern.user)
        assert maildir_dir_sync_expected(mdir, spool) == (fstype == "btrfs")
        check_local_order(tern, lines, msgid, mdir, spool)
    finally:
        tern.kill_all()
        fs.umount(check=False)


def test_maildir_on_another_file_system_fsyncs_new(tern, tmp_path):
    """Metadata order holds only within one file system: Maildirs on a
    journaled ext4 of their own (a spool on /var, mailboxes on /home)
    get new/ fsynced although that ext4 orders its metadata."""
    mnt = tern.path("maildir")
    fs = LoopExt4(tmp_path / "maildirs.img", mnt, (tern.uid, tern.gid))
    try:
        assert ext4_has_journal(mnt)
        assert os.stat(mnt).st_dev != os.stat(tern.spool.parent).st_dev
        lines, msgid = traced_delivery(tern, f"{tern.user}@maildir.example")
        mdir = tern.path("maildir", tern.user)
        assert maildir_dir_sync_expected(mdir, tern.spool)
        check_local_order(tern, lines, msgid, mdir, tern.spool)
    finally:
        tern.stop()
        fs.umount(check=False)


def test_221_goes_out_with_the_fin(tern):
    """The daemon's reception process closes its socket as soon as the
    session is over: its last reply (the 221) is sent with MSG_MORE, so
    that the kernel puts it in one packet with the FIN instead of two
    (bench/RESULTS.md, sixth session)."""
    rcpt = f"{tern.user}@maildir.example"
    lines, _ = traced_delivery(tern, rcpt)
    quit_reply = index(lines, lambda p, c, a: c == "sendto" and
                       "socket:" in a and '"221 ' in a, "the 221")
    assert "MSG_MORE" in lines[quit_reply][2], lines[quit_reply]
    # Every other reply is pushed at once.
    ack = index(lines, lambda p, c, a: c == "sendto" and "socket:" in a and
                '"250 ' in a and "id=" in a, "the 250 for the message")
    assert "MSG_MORE" not in lines[ack][2], lines[ack]


def test_maildir_without_proc_renames_a_named_file(tern, tmp_path):
    """Where no /proc is mounted (a chroot, a namespace without it), the
    unnamed file cannot be given its name through /proc/self/fd: the
    delivery writes a named file in tmp/ and renames it, in the same
    order, and the message arrives (docs/config.md, "Maildir
    durability").  Without the fallback the delivery defers and new/
    stays empty.  (No strace here: LeakSanitizer fails a traced process
    at its exit.)"""
    fs = LoopExt4(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid))
    try:
        tern.config(standard_config_under("fs"))
        rcpt = f"{tern.user}@maildir.example"
        argv = ["unshare", "--mount", "--propagation", "private", "sh",
                "-c", 'umount -l /proc && ! [ -e /proc/self/fd ] && '
                'exec "$@"', "sh"] + tern.argv(["-odi", "-i", rcpt])
        r = subprocess.run(argv, input=make_message(to=rcpt),
                           capture_output=True, env=tern.env(),
                           cwd=tern.dir, timeout=60)
        # Under the sanitizers LeakSanitizer, which needs /proc, fails
        # the process at its exit; what counts is the mailbox and the log.
        assert r.returncode == 0 or (
            SANITIZE and b"LeakSanitizer" in r.stderr), r
        mdir = tern.path("fs", "maildir", tern.user)
        assert len(list((mdir / "new").iterdir())) == 1
        assert list((mdir / "tmp").iterdir()) == []
        assert "Completed" in tern.mainlog()
        assert "defer" not in tern.mainlog()
    finally:
        tern.kill_all()
        fs.umount(check=False)


def test_spool_files_are_read_without_updating_their_atime(tern):
    """Every open of a message file (the reception's, the delivery's,
    the pool's) asks for O_NOATIME: a read would otherwise change the
    inode of a file just written, one more journal change per delivery
    (bench/RESULTS.md, twelfth session)."""
    tern.config()
    out = tern.path("out", "strace.txt")
    st = strace_daemon(tern, out, ["-s", "300", "-e", "trace=open,openat"])
    try:
        for i in range(2):  # the second takes the first's file from pool/
            rcpt = f"{tern.user}@maildir.example"
            assert tern.send(rcpt, make_message(to=rcpt)) == {}
            tern.wait_queue_empty()
    finally:
        st.terminate()
        st.wait()
    # input/ID-M by path; a pool slot by its number, relative to pool/
    opens = [line for line in out.read_text().splitlines()
             if re.search(r'"[^"]*/input/[^"/]+-M"', line)
             or re.search(r'openat\(\d+, "\d+"', line)]
    spool = [line for line in opens if "= -1" not in line]
    assert any("/input/" in line for line in spool), opens
    assert any("/input/" not in line for line in spool), opens
    for line in spool:
        assert "O_NOATIME" in line, line


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_two_deliveries_share_one_commit(tern, tmp_path, fstype):
    """Spool and Maildirs on one journaled ext4 or xfs: a delivery that reaches
    its fsync while another connection is under way waits on the
    daemon's board (a shared futex, maildir_commit_wait) until the next
    delivery reaches its own, which wakes it before it fsyncs: both
    fsyncs go into one journal commit (docs/config.md, "Maildir
    durability").  Each still fsyncs its own file, after its link."""
    fs = LoopFs(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid),
                fstype=fstype)
    try:
        rcpt = f"{tern.user}@maildir.example"
        mdir = tern.path("fs", "maildir", tern.user)
        tern.config(standard_config_under("fs").replace(
            "  maildir_format\n",
            "  maildir_format\n  maildir_commit_wait = 1000\n", 1))
        out = tern.path("out", "strace.txt")
        st = strace_daemon(tern, out, ["-y", "-e", "trace=futex,fsync,linkat"])
        try:
            # The second connection is under way when the first message's
            # delivery reaches its fsync.
            second = tern.smtp()
            second.mail("sender@example.net")
            second.rcpt(rcpt)
            assert tern.send(rcpt, make_message(to=rcpt)) == {}
            wait_for(lambda: "FUTEX_WAIT," in out.read_text(), 10 * SCALE,
                     "the first delivery to wait")
            second.data(make_message(to=rcpt))
            second.quit()
            wait_for(lambda: tern.mainlog().count(" Completed") == 2,
                     30, "both deliveries to complete")
        finally:
            st.terminate()
            st.wait()
        lines = strace_lines(out, resumed=True)
        links = [(i, p) for i, (p, c, a) in enumerate(lines)
                 if c == "linkat" and f"{mdir}/new/" in a]
        assert len(links) == 2 and links[0][1] != links[1][1], lines
        (link1, first), (link2, second_pid) = links

        def at(pid, pred, what):
            return index(lines, lambda p, c, a: p == pid and pred(c, a), what)
        wait = at(first, lambda c, a: c == "futex" and "FUTEX_WAIT," in a,
                  "the first delivery's wait")
        sync1 = at(first, lambda c, a: c == "fsync" and f"{mdir}/" in a,
                   "the first delivery's fsync")
        wake = at(second_pid, lambda c, a: c == "futex" and
                  "FUTEX_WAKE," in a, "the second delivery's wake-up")
        sync2 = at(second_pid, lambda c, a: c == "fsync" and f"{mdir}/" in a,
                   "the second delivery's fsync")
        assert link1 < wait < link2 < wake < sync2, lines
        # woken (its wait did not time out), and only then its own fsync
        assert wake < sync1, lines
        assert not any(p == first and c == "futex" and "ETIMEDOUT" in a
                       for p, c, a in lines[wait:sync1]), lines
        assert len(os.listdir(mdir / "new")) == 2
    finally:
        tern.kill_all()
        fs.umount(check=False)

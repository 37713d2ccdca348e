"""A power cut, simulated on a real journaled ext4, and on xfs: the file
system is shut down without writing its journal (EXT4_IOC_SHUTDOWN with
EXT4_GOING_FLAGS_NOLOGFLUSH; on xfs XFS_IOC_GOINGDOWN with
XFS_FSOP_GOING_FLAGS_NOLOGFLUSH, the same request number and flag, as
xfstests' godown does), so whatever the journal had not committed is
lost, while every block already written stays.  Then it is mounted
again (the journal is replayed) and Tern runs its queue.  No
acknowledged message may be missing from the mailbox.  Both are file
systems on which Tern's Maildir delivery leaves new/ unsynced when the
spool shares them (docs/config.md, "Maildir durability").

The case this file was written for: a Maildir delivery's rename into
new/ is metadata, committed with the journal; when the message's spool
file is then emptied and taken for the next message (pool/, one slot
here), that reception's fdatasync writes data only, without a journal
commit.  If the rename was still uncommitted then, the cut would leave
the delivered message only in tmp/, and its spool file holding the next
message."""

import email
import fcntl
import os
import struct

import pytest

from tern_helpers import (LoopFs, make_message, spool_committed,
                          standard_config_under, wait_for)

# EXT4_IOC_SHUTDOWN and XFS_IOC_GOINGDOWN: both _IOR('X', 125, __u32)
SHUTDOWN = 0x8004587D
GOING_FLAGS_NOLOGFLUSH = 2              # the same value for both


@pytest.fixture(params=["ext4", "xfs"])
def fs(request, tern, tmp_path):
    """A journaled file system on a loop device at @DIR@/fs that commits
    its journal only when asked to, so that nothing but Tern's own syncs
    decides what is on disk: ext4 with commit=300; xfs pushes its log
    only when forced, when the log fills, or every 30 s
    (fs.xfs.xfssyncd_centisecs), none of which a short test reaches."""
    opts = "loop,commit=300" if request.param == "ext4" else "loop"
    fs = LoopFs(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid),
                opts=opts, fstype=request.param)
    try:
        yield fs
    finally:
        tern.kill_all()
        fs.umount(check=False)


def power_cut(tern, fs):
    """Cut the power, stop every process, mount the file system again as
    after a reboot: a new boot has not checked pool/ yet."""
    fd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, SHUTDOWN, struct.pack("I", GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)
    tern.kill_all()
    wait_for(lambda: not tern.processes(), 20, "Tern's processes to go")
    fs.umount()
    fs.mount()
    for mark in (fs.mnt / "spool" / "pool").glob(".checked-*"):
        mark.unlink()


def subjects(tern, sub="new"):
    """The Subject: of each file in the Maildir's new/ (or tmp/)."""
    box = tern.path("fs", "maildir", tern.user, sub)
    if not box.is_dir():
        return []
    out = []
    for f in box.iterdir():
        msg = email.message_from_bytes(f.read_bytes())
        out.append(msg["Subject"])
    return sorted(out)


def spool_file(fs, inode):
    """The name in input/ of the file with this inode, or None."""
    for f in (fs.mnt / "spool" / "input").iterdir():
        if f.stat().st_ino == inode:
            return f.name
    return None


def send_to_its_250(s, rcpt, subject):
    """One message over the raw session s, up to its 250 (the message is
    on disk from then on); the session stays open."""
    assert s.banner[0] == 220
    s.expect("EHLO client.example", 250)
    s.expect("MAIL FROM:<sender@example.net>", 250)
    s.expect(f"RCPT TO:<{rcpt}>", 250)
    s.expect("DATA", 354)
    body = make_message(to=rcpt, subject=subject)
    s.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    code, text = s.reply()
    assert code == 250, text


def cut_after_the_next_250(tern, fs, slot):
    """A third message takes the file in slot; its 250 says it is on
    disk, and nothing delivers it before the power is cut (queue_only).
    Then the queue runs after the "boot": every message must be in
    new/."""
    rcpt = f"{tern.user}@maildir.example"
    inode = slot.stat().st_ino
    with tern.raw() as s:
        send_to_its_250(s, rcpt, "message 3")
        # At the 250 the file is committed where it was taken, pool/0;
        # its rename to input/ (queue_only) follows the 250, so the cut
        # may find it under either name (docs/spool.md, "Parked
        # messages"): after the boot the pool's check moves it.
        def taken():
            try:
                return spool_committed(slot) and \
                    slot.stat().st_ino == inode
            except FileNotFoundError:
                return spool_file(fs, inode) is not None
        wait_for(lambda: taken() or spool_file(fs, inode) is not None,
                 5, "message 3 to take message 2's file")
        power_cut(tern, fs)
    # After the "boot", before anything of Tern's runs again, the
    # message is on disk under one name or the other.
    assert taken() or spool_file(fs, inode) is not None, \
        "message 3, acknowledged, is in neither pool/0 nor input/ " \
        "after the cut"
    tern.start_daemon(["-q1s"])
    # Wait for the mailbox, not for input/ to empty: when the cut undid
    # message 3's rename, input/ is empty until the first queue run's
    # check of the pool moves the file there, and a wait on input/
    # alone would end before that run started.
    want = {"message 1", "message 2", "message 3"}
    try:
        wait_for(lambda: want <= set(subjects(tern)), 30,
                 "every acknowledged message in new/ after the cut")
    except AssertionError:
        raise AssertionError("acknowledged messages missing from new/ "
                             f"after the cut: {subjects(tern)}") from None
    wait_for(lambda: not any(f.name.endswith("-M") for f in
                             (fs.mnt / "spool" / "input").iterdir()),
             30, "the queue to empty after the cut")
    tern.stop()
    assert subjects(tern, "tmp") == []


def test_a_delivered_message_survives_its_file_taken_for_the_next(tern, fs):
    """Delivered by queue runs: each message's file goes from pool/0 to
    input/ after its 250 and back to pool/0 when it is delivered."""
    rcpt = f"{tern.user}@maildir.example"
    slot = fs.mnt / "spool" / "pool" / "0"
    tern.config(standard_config_under("fs"),
                main="spool_reuse_max = 1\nqueue_only")
    tern.start_daemon()
    # queue_only: nothing is delivered but by the queue runs below.  The
    # first message creates its file; delivered, the file is emptied
    # into pool/0, the pool's one slot.  The second takes it, and is
    # delivered and emptied into it in turn.
    for n in (1, 2):
        assert tern.send(rcpt, make_message(to=rcpt,
                                            subject=f"message {n}")) == {}
        assert tern.run(["-qf"]).ok()
        assert subjects(tern) == [f"message {i}" for i in range(1, n + 1)]
        assert slot.exists(), f"message {n}'s file is not in pool/0"
    cut_after_the_next_250(tern, fs, slot)


def test_a_message_its_reception_delivered_survives_the_next(tern, fs):
    """Delivered by their own reception processes: message 2's file
    stays pool/0 from its first byte to its emptying, with no rename
    (docs/spool.md, "Parked messages"), so nothing but the Maildir
    delivery's own fsync commits its link into new/ before the file
    is emptied and message 3's data-only fdatasync goes into it.  On
    xfs the queue-run test above would not show a missing fsync: the
    rename back into pool/ makes the next fdatasync of that file force
    the log."""
    rcpt = f"{tern.user}@maildir.example"
    slot = fs.mnt / "spool" / "pool" / "0"
    tern.config(standard_config_under("fs"), main="spool_reuse_max = 1")
    tern.start_daemon()
    for n in (1, 2):
        assert tern.send(rcpt, make_message(to=rcpt,
                                            subject=f"message {n}")) == {}
        wait_for(lambda: tern.mainlog().count(" Completed") == n, 30,
                 f"message {n} to be delivered")
        wait_for(lambda: slot.exists() and not spool_committed(slot), 10,
                 f"message {n}'s file to be emptied into pool/0")
    assert subjects(tern) == ["message 1", "message 2"]
    tern.stop()
    tern.config(standard_config_under("fs"),
                main="spool_reuse_max = 1\nqueue_only")
    tern.start_daemon()
    cut_after_the_next_250(tern, fs, slot)


def test_a_message_in_a_new_file_survives_a_cut_after_its_250(tern, fs):
    """No pool (spool_reuse_max = 0): the message gets a new file in
    input/, whose directory entry is metadata.  Tern fsyncs only the
    file, not input/, on these file systems (docs/spool.md): that
    fdatasync of a new file commits the journal transaction holding its
    name (ext4), or forces the log up to its creation (xfs).  The power
    is cut right after the 250; the message must be there after."""
    rcpt = f"{tern.user}@maildir.example"
    tern.config(standard_config_under("fs"),
                main="spool_reuse_max = 0\nqueue_only")
    tern.start_daemon()
    with tern.raw() as s:
        send_to_its_250(s, rcpt, "message 1")
        power_cut(tern, fs)
    assert not (fs.mnt / "spool" / "pool" / "0").exists()
    tern.start_daemon(["-q1s"])
    wait_for(lambda: subjects(tern) == ["message 1"], 30,
             "the message to be delivered after the cut")
    tern.stop()

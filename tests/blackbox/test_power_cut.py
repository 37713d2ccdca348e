"""A power cut, simulated on a real journaled ext4: the file system is
shut down without writing its journal (EXT4_IOC_SHUTDOWN with
EXT4_GOING_FLAGS_NOLOGFLUSH, as xfstests' godown does), so whatever the
journal had not committed is lost, while every block already written
stays.  Then it is mounted again (the journal is replayed) and Tern runs
its queue.  No acknowledged message may be missing from the mailbox.

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

from tern_helpers import (LoopExt4, make_message, spool_committed,
                          standard_config_under, wait_for)

EXT4_IOC_SHUTDOWN = 0x8004587D          # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2


@pytest.fixture
def ext4(tern, tmp_path):
    """A journaled ext4 on a loop device at @DIR@/fs, committing its
    journal only when asked to (commit=300), so that nothing but Tern's
    own syncs decides what is on disk."""
    fs = LoopExt4(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid),
                  opts="loop,commit=300")
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
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN,
                    struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
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


def test_a_delivered_message_survives_its_file_taken_for_the_next(tern, ext4):
    rcpt = f"{tern.user}@maildir.example"
    slot = ext4.mnt / "spool" / "pool" / "0"
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
    inode = slot.stat().st_ino
    # The third takes that file again; its 250 says it is on disk.
    # Nothing delivers it before the cut.
    with tern.raw() as s:
        assert s.banner[0] == 220
        s.expect("EHLO client.example", 250)
        s.expect("MAIL FROM:<sender@example.net>", 250)
        s.expect(f"RCPT TO:<{rcpt}>", 250)
        s.expect("DATA", 354)
        body = make_message(to=rcpt, subject="message 3")
        s.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        code, text = s.reply()
        assert code == 250, text
        # At the 250 the file is committed where it was taken, pool/0;
        # its rename to input/ (queue_only) follows the 250, so the cut
        # may find it under either name (docs/spool.md, "Parked
        # messages"): after the boot the pool's check moves it.
        def taken():
            try:
                return spool_committed(slot) and \
                    slot.stat().st_ino == inode
            except FileNotFoundError:
                return spool_file(ext4, inode) is not None
        wait_for(lambda: taken() or spool_file(ext4, inode) is not None,
                 5, "message 3 to take message 2's file")
        power_cut(tern, ext4)
    tern.start_daemon(["-q1s"])
    wait_for(lambda: not any(f.name.endswith("-M") for f in
                             (ext4.mnt / "spool" / "input").iterdir()),
             30, "the queue to empty after the cut")
    tern.stop()
    got = subjects(tern)
    assert {"message 1", "message 2", "message 3"} <= set(got), \
        f"acknowledged messages missing from new/ after the cut: {got}"
    assert subjects(tern, "tmp") == []

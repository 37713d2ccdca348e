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

from tern_helpers import LoopExt4, make_message, wait_for

EXT4_IOC_SHUTDOWN = 0x8004587D          # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2

CONFIG = """\
primary_hostname = test.example
qualify_domain = test.example
local_domains = maildir.example
daemon_smtp_ports = @PORT@
local_interfaces = 127.0.0.1
spool_directory = @DIR@/fs/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@
spool_reuse_max = 1

begin transports

local_maildir:
  driver = appendfile
  directory = @DIR@/fs/maildir/$local_part
  maildir_format
  create_directory

begin directors

maildir_user:
  driver = localuser
  transport = local_maildir
"""


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
    fd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN,
                    struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)
    tern.kill_all()
    fs.umount()


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


def test_a_delivered_message_survives_its_file_taken_for_the_next(tern, ext4):
    rcpt = f"{tern.user}@maildir.example"
    tern.config(CONFIG)
    tern.start_daemon()
    # The first message creates its file; once delivered, the file is
    # emptied into pool/0, the pool's one slot.  The second takes it,
    # and is delivered and emptied into it in turn.
    for n in (1, 2):
        assert tern.send(rcpt, make_message(to=rcpt,
                                            subject=f"message {n}")) == {}
        wait_for(lambda: len(subjects(tern)) == n, 20,
                 f"message {n} in new/")
    wait_for(lambda: os.path.exists(ext4.mnt / "spool" / "pool" / "0"), 20,
             "message 2's file back in pool/0")
    # The third takes that file again; its 250 says it is on disk.  The
    # session stays open, so nothing delivers it before the cut.
    with tern.raw() as s:
        assert s.banner[0] == 220
        s.expect("EHLO client.example", 250)
        s.expect("MAIL FROM:<sender@example.net>", 250)
        s.expect(f"RCPT TO:<{rcpt}>", 250)
        s.expect("DATA", 354)
        body = make_message(to=rcpt, subject="message 3")
        s.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        assert s.reply()[0] == 250
        power_cut(tern, ext4)
    ext4.mount()
    tern.start_daemon(["-q1s"])
    wait_for(lambda: len(set(subjects(tern))) == 3, 30,
             "every acknowledged message in new/ after the cut: "
             f"{subjects(tern)}")
    assert set(subjects(tern)) == {"message 1", "message 2", "message 3"}
    assert subjects(tern, "tmp") == []

"""A full disk, on a real ext4 on a loop device: the mailboxes' (a
delivery defers with a clear reason, leaves no partial message behind,
and delivers once there is room) and the spool's with its pool of
reused files (the client gets a temporary error, nothing accepted
before is lost).  test_queue_spool_full.py fills a spool on tmpfs,
where no files are reused."""

import os
import re
import smtplib

import pytest

from tern_helpers import (STANDARD_CONFIG, LoopFs, make_message,
                          read_mbox, standard_config_under, wait_for)


@pytest.fixture
def fs(tern, tmp_path):
    fs = LoopFs(tmp_path / "fs.img", tern.path("fs"), (tern.uid, tern.gid))
    try:
        yield fs
    finally:
        tern.kill_all()
        fs.umount(check=False)


def fill(fs):
    """Fill the file system to the last block (as root: the blocks ext4
    keeps for root too); returns the filler's path."""
    filler = fs.mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for n in (1 << 20, 1 << 16, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * n)
                except OSError:
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    assert filler.stat().st_size > 0
    return filler


def subjects_of(mbox):
    return [re.search(rb"^Subject: (.*)$", m, re.M).group(1).decode()
            for m in read_mbox(mbox)]


def input_ids(spool):
    """Ids of the committed messages in spool/input."""
    return sorted(n[:-2] for n in os.listdir(spool / "input")
                  if n.endswith("-M"))


def deferred(tern, rcpt):
    """The reasons logged for deferrals of rcpt."""
    return re.findall(r"== " + re.escape(rcpt) + r" .* defer \(-?\d+\): (.*)",
                      tern.mainlog())


def test_full_mailbox_disk_defers_and_loses_nothing(tern, fs):
    """mbox and Maildir on a full file system: each delivery defers with
    "mailbox is full (writing to FILE: No space left on device)"; the
    mbox is truncated back to its last whole message, the Maildir's
    tmp/ stays empty and new/ holds only the message delivered before;
    the messages stay queued and are delivered once, when there is room
    again."""
    conf = (STANDARD_CONFIG
            .replace("file = @DIR@/mail/$local_part",
                     "file = @DIR@/fs/mail/$local_part")
            .replace("directory = @DIR@/maildir/$local_part",
                     "directory = @DIR@/fs/maildir/$local_part"))
    tern.config(conf)
    (fs.mnt / "mail").mkdir()
    tern.own(fs.mnt / "mail")
    mbox = fs.mnt / "mail" / tern.user
    to_mbox = f"{tern.user}@test.example"
    to_maildir = f"{tern.user}@maildir.example"
    body = b"0123456789abcdef" * 4096  # 64 KiB: more than a block
    tern.start_daemon()
    for rcpt in (to_mbox, to_maildir):
        assert tern.send(rcpt, make_message(to=rcpt, subject="first")) == {}
    tern.wait_queue_empty()
    assert subjects_of(mbox) == ["first"]
    size = mbox.stat().st_size
    mdir = fs.mnt / "maildir" / tern.user
    first = list((mdir / "new").iterdir())
    assert len(first) == 1

    filler = fill(fs)
    for rcpt in (to_mbox, to_maildir):
        assert tern.send(rcpt, make_message(to=rcpt, subject="second",
                                            body=body)) == {}
    wait_for(lambda: deferred(tern, to_mbox) and deferred(tern, to_maildir),
             30, "both deliveries to defer")
    for rcpt, path in ((to_mbox, mbox),
                       (to_maildir, fs.mnt / "maildir" / tern.user)):
        why = deferred(tern, rcpt)[0]
        assert why.startswith(f"mailbox is full (writing to {path}"), why
        assert "No space left on device" in why, why
    assert mbox.stat().st_size == size, "a partial message was left"
    assert subjects_of(mbox) == ["first"]
    assert list((mdir / "tmp").iterdir()) == []
    assert list((mdir / "new").iterdir()) == first
    assert len(tern.queue_ids()) == 2
    assert tern.mainlog().count(" Completed") == 2  # the two firsts

    os.unlink(filler)
    assert tern.run(["-qf"]).ok()
    tern.wait_queue_empty()
    assert subjects_of(mbox) == ["first", "second"]
    new = [f for f in (mdir / "new").iterdir() if f not in first]
    assert len(new) == 1 and b"Subject: second" in new[0].read_bytes()
    assert list((mdir / "tmp").iterdir()) == []


def test_full_spool_with_reused_files(tern, fs):
    """The spool on a journaled ext4, with pool/ holding emptied files
    of earlier messages.  Once the disk is full, a message that needs
    more blocks than its pool file has gets a temporary error (451 or
    452) and leaves no message behind; the messages accepted before
    are all delivered once there is room, and the next message is
    accepted again."""
    rcpt = f"{tern.user}@maildir.example"
    tern.config(standard_config_under("fs"), main="queue_only")
    tern.start_daemon()
    spool = fs.mnt / "spool"

    def queue_empty():
        wait_for(lambda: input_ids(spool) == [], 30, "the queue to empty")
    small = b"x" * 1000 + b"\n"
    for i in range(3):
        assert tern.send(rcpt, make_message(to=rcpt, subject=f"m{i}",
                                            body=small)) == {}
    assert tern.run(["-qf"]).ok()
    queue_empty()
    assert [p for p in (spool / "pool").iterdir() if p.name.isdigit()]
    # Two accepted and queued (queue_only): they take pool files.
    for i in range(3, 5):
        assert tern.send(rcpt, make_message(to=rcpt, subject=f"m{i}",
                                            body=small)) == {}
    queued = input_ids(spool)
    assert len(queued) == 2

    filler = fill(fs)
    big = (b"0123456789abcdef" * 63 + b"\n") * 1000  # about 1 MB
    s = tern.smtp()
    assert s.mail("sender@example.net")[0] == 250
    assert s.rcpt(rcpt)[0] == 250
    try:
        code, text = s.data(make_message(to=rcpt, subject="too big",
                                         body=big))
    except smtplib.SMTPServerDisconnected:
        code, text = None, b""
    s.close()
    assert code in (451, 452), (code, text)
    assert input_ids(spool) == queued
    assert not [n for n in os.listdir(spool / "input")
                if not n.endswith("-M")], os.listdir(spool / "input")
    # The log says which file, why, and whose message it was.
    for log in (tern.mainlog(), tern.log("panic")):
        assert re.search(r"Message abandoned: spool: \w+ "
                         + re.escape(str(spool)) + r"/\S+: "
                         r"No space left on device; receiving from "
                         r"H=.*\[127\.0\.0\.1\]:\d+ F=<sender@example\.net>",
                         log), log

    os.unlink(filler)
    assert tern.send(rcpt, make_message(to=rcpt, subject="m5",
                                        body=small)) == {}
    assert tern.run(["-qf"]).ok()
    queue_empty()
    mdir = fs.mnt / "maildir" / tern.user / "new"
    subjects = sorted(re.search(rb"Subject: (\S+)", f.read_bytes()).group(1)
                      for f in mdir.iterdir())
    assert subjects == [f"m{i}".encode() for i in range(6)], subjects

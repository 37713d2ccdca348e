"""appendfile's Maildir options as an ISP sets them: maildir_tag (the
message's size in its file name, for an IMAP server's quota),
quota_filecount and quota_is_inclusive."""

import os
import re

import pytest

from tern_helpers import LOG_HEAD, STANDARD_CONFIG


def maildir_with(tern, options):
    tern.config(STANDARD_CONFIG.replace(
        "  maildir_format\n", "  maildir_format\n" + options + "\n"))


def submit(tern, body=b"x\n"):
    before = set(tern.arrivals())
    r = tern.run(["-odi", "-i", f"{tern.user}@maildir.example"],
                 input=b"Subject: a\n\n" + body, prog="sendmail", timeout=60)
    assert r.returncode == 0, r
    (msgid,) = [m for m in tern.arrivals() if m not in before]
    return msgid


def new_names(tern):
    d = tern.path("maildir", tern.user, "new")
    return sorted(os.listdir(d)) if d.exists() else []


@pytest.mark.parametrize("tag,want", [
    (",S=$message_size", ",S={}"),
    # a tag starting with a letter or digit gets a colon, as in Exim
    ("S$message_size", ":S{}"),
    # non-printing characters are dropped
    ('",\\tS=$message_size"', ",S={}")])
def test_maildir_tag(tern, tag, want):
    maildir_with(tern, "  maildir_tag = " + tag)
    msgid = submit(tern)
    tern.wait_completed(msgid)
    size = re.search(LOG_HEAD + re.escape(msgid) + r" <= .* S=(\d+)",
                     tern.mainlog(), re.M).group(1)
    (name,) = new_names(tern)
    assert name.endswith(want.format(size)), (name, size)
    assert ".M" in name, name


def test_maildir_tag_with_a_slash_defers(tern):
    """A "/" would put the file outside new/: the delivery waits, with
    the reason in the log, until the configuration is fixed."""
    maildir_with(tern, "  maildir_tag = ,S=$message_size/x")
    msgid = submit(tern)
    assert tern.queue_ids() == [msgid]
    assert re.search(re.escape(msgid) + r" == .*T=local_maildir.*"
                     r'maildir_tag ",S=\d+/x" .*contains "/"',
                     tern.mainlog()), tern.mainlog()
    assert new_names(tern) == []


def test_quota_filecount(tern):
    """Two files at most: the third message waits in the queue, deferred
    as a full mailbox (retried under the quota retry rules)."""
    maildir_with(tern, "  quota_filecount = ${if eq{1}{1}{2}}")
    for _ in range(2):
        tern.wait_completed(submit(tern))
    msgid = submit(tern)
    assert tern.queue_ids() == [msgid]
    assert re.search(re.escape(msgid) + r" == .*T=local_maildir.*mailbox "
                     r"is full \(MTA-imposed file count quota exceeded",
                     tern.mainlog()), tern.mainlog()
    assert len(new_names(tern)) == 2
    # the user reads one and deletes it: the next run delivers
    os.unlink(tern.path("maildir", tern.user, "new", new_names(tern)[0]))
    assert tern.run(["-qf"]).returncode == 0
    tern.wait_queue_empty()
    assert len(new_names(tern)) == 2


@pytest.mark.parametrize("inclusive", [True, False])
def test_quota_is_inclusive(tern, inclusive):
    """A mailbox under its quota takes one message more that takes it
    over only with quota_is_inclusive = false."""
    maildir_with(tern, "  quota = 1500\n  quota_is_inclusive = " +
                 ("true" if inclusive else "false"))
    tern.wait_completed(submit(tern, b"y" * 600 + b"\n"))
    msgid = submit(tern, b"z" * 600 + b"\n")
    if inclusive:
        assert tern.queue_ids() == [msgid]
        assert len(new_names(tern)) == 1
    else:
        tern.wait_completed(msgid)
        assert len(new_names(tern)) == 2
        # now over: the next one waits
        third = submit(tern)
        assert tern.queue_ids() == [third]

"""maildrop/ (docs/spool.md): on a system instance (started by root,
running as tern_user), an ordinary user's sendmail cannot write the
spool, so it leaves the message in spool/maildrop, and the daemon's
pickup process (or a queue run) takes it in as a local message from the
file's owner.  Root only: the user must be another uid than tern's."""

import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tern_helpers import IS_ROOT, LOG_HEAD, ensure_user, make_message, \
    wait_for

pytestmark = pytest.mark.skipif(
    not IS_ROOT, reason="submits as a second user to a root-started tern")

USER = "terndrop"


@pytest.fixture
def user(tern):
    """An ordinary user who can reach the test's files (the temporary
    directories above it are made searchable), and a system instance's
    configuration: tern_user is the test user, the mailboxes are in a
    sticky world-writable directory as /var/mail is."""
    pw = ensure_user(USER)
    p = tern.dir
    while p != Path("/"):
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = p.parent
    tern.config()
    os.chmod(tern.path("mail"), 0o1777)
    # The spool as a system instance makes it: a queue run started by
    # root.
    assert tern.run(["-q"], as_user=False).ok()
    return pw


def sendmail(tern, pw, args, message, prog="sendmail"):
    """Run sendmail (or tern) as the ordinary user pw."""
    argv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
            "--init-groups", "--"] + tern.argv(args, prog=prog,
                                               as_user=False)
    env = tern.env({"USER": pw.pw_name, "LOGNAME": pw.pw_name,
                    "HOME": "/"})
    return subprocess.run(argv, input=message, capture_output=True,
                          env=env, cwd="/", timeout=60)


def maildrop(tern):
    return tern.spool / "maildrop"


def dropped(tern):
    return sorted(p.name for p in maildrop(tern).iterdir())


def test_a_user_submits_through_the_daemon(tern, user):
    tern.start_daemon(as_user=False)
    md = os.stat(maildrop(tern))
    assert stat.S_IMODE(md.st_mode) == 0o3733, oct(md.st_mode)
    assert md.st_uid == tern.uid
    assert os.stat(tern.spool).st_mode & stat.S_IXOTH
    r = sendmail(tern, user, ["-f", "boss@example.org",
                              "alice@test.example"],
                 make_message(subject="from a user"))
    assert r.returncode == 0, r
    msgs = tern.wait_mbox("alice")
    assert b"Subject: from a user" in msgs[0]
    # The owner of the file is the sender; an untrusted -f is ignored.
    assert re.search(rb"^Return-path: <terndrop@test\.example>",
                     msgs[0], re.M), msgs[0][:300]
    log = tern.mainlog()
    assert re.search(LOG_HEAD + r"\S+ <= terndrop@test\.example U=terndrop "
                     r"P=local ", log, re.M), log
    assert "untrusted user terndrop: -f boss@example.org ignored" in log
    wait_for(lambda: dropped(tern) == [], 10, "maildrop/ to empty")


def test_without_a_daemon_the_queue_run_takes_it_in(tern, user):
    r = sendmail(tern, user, ["-i", "alice@test.example"],
                 make_message(subject="waiting", body=b"a\n.\nb\n"))
    assert r.returncode == 0, r
    files = dropped(tern)
    assert len(files) == 1
    st = os.stat(maildrop(tern) / files[0])
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (user.pw_uid, 0o640)
    assert st.st_gid == tern.gid   # the directory's group: tern reads it
    assert not tern.path("mail", "alice").exists()
    assert tern.run(["-q"], as_user=False).ok()
    msgs = tern.wait_mbox("alice")
    # -i: the lone "." line is data.
    assert b"\na\n.\nb\n" in msgs[0].replace(b"\r\n", b"\n")
    assert dropped(tern) == []


def test_a_lone_dot_ends_the_message_without_dash_i(tern, user):
    tern.start_daemon(as_user=False)
    r = sendmail(tern, user, ["alice@test.example"],
                 make_message(subject="dot", body=b"kept\n.\ncut\n"))
    assert r.returncode == 0, r
    body = tern.wait_mbox("alice")[0].replace(b"\r\n", b"\n")
    assert b"kept\n" in body and b"cut" not in body


def test_recipients_from_the_header_with_dash_t(tern, user):
    tern.start_daemon(as_user=False)
    r = sendmail(tern, user, ["-t"],
                 make_message(to="bob@test.example", subject="-t"))
    assert r.returncode == 0, r
    assert b"Subject: -t" in tern.wait_mbox("bob")[0]


def test_errors_the_user_sees_leave_nothing_behind(tern, user):
    tern.config(main="message_size_limit = 1K")
    r = sendmail(tern, user, ["alice@test.example"],
                 make_message(body=b"x" * 4000 + b"\n"))
    assert r.returncode == 65, r
    assert b"message too big" in r.stderr
    r = sendmail(tern, user, ["bad address@@x"], make_message())
    assert r.returncode == 65, r
    assert b"bad recipient" in r.stderr
    r = sendmail(tern, user, [], make_message())
    assert r.returncode == 64, r
    assert dropped(tern) == []


def test_smtp_on_stdin_and_the_queue_list_are_refused_with_a_reason(tern,
                                                                     user):
    r = sendmail(tern, user, ["-bs"], b"QUIT\r\n", prog="tern")
    assert r.returncode == 77, r
    assert b"cannot write the spool" in r.stderr
    for prog, args in (("mailq", []), ("tern", ["-bpc"])):
        r = sendmail(tern, user, args, b"", prog=prog)
        assert r.returncode == 77, r
        assert b"only root and tern_user may list the queue" in r.stderr


def test_damaged_and_foreign_files_are_removed_not_delivered(tern, user):
    """A file whose digest does not match (a crash cut it before its
    sendmail's fsync returned, or someone changed it) and a symbolic link
    are removed with a log line; the link's target is untouched."""
    r = sendmail(tern, user, ["alice@test.example"],
                 make_message(subject="to be damaged"))
    assert r.returncode == 0, r
    [name] = dropped(tern)
    f = maildrop(tern) / name
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x20
    f.write_bytes(bytes(data))
    target = tern.path("out", "precious")
    target.write_text("keep me\n")
    subprocess.run(["setpriv", f"--reuid={user.pw_uid}",
                    f"--regid={user.pw_gid}", "--init-groups", "--",
                    "ln", "-s", str(target), str(maildrop(tern) / "link")],
                   check=True)
    assert tern.run(["-q"], as_user=False).ok()
    assert dropped(tern) == []
    assert not tern.path("mail", "alice").exists()
    assert target.read_text() == "keep me\n"
    rej = tern.rejectlog()
    assert re.search(rf"maildrop: {name} from terndrop removed: damaged",
                     rej), rej
    assert re.search(r"maildrop: link from terndrop removed: cannot be opened",
                     rej), rej


def as_user(pw, *cmd):
    return subprocess.run(["setpriv", f"--reuid={pw.pw_uid}",
                           f"--regid={pw.pw_gid}", "--init-groups", "--",
                           *cmd], capture_output=True)


def test_a_file_of_roots_moved_in_does_not_speak_for_root(tern, user):
    """A file the user may move but does not own (root's, left in a
    directory of the user's), well formed and asking for -f: a rename
    keeps its group, so it is not one sendmail made, and is removed
    without a message from root."""
    import hashlib
    home = tern.path("out", "home")
    home.mkdir()
    os.chown(home, user.pw_uid, user.pw_gid)
    rest = b"fceo@bank.example\0ralice@test.example\0\0Subject: x\n\ny\n"
    forged = home / "forged"
    forged.write_bytes(b"tern-maildrop 1 %016x %s\n" % (
        len(rest), hashlib.sha256(rest).hexdigest().encode()) + rest)
    os.chmod(forged, 0o644)     # readable: the check is what refuses it
    r = as_user(user, "mv", str(forged), str(maildrop(tern) / "forged"))
    assert r.returncode == 0, r
    assert tern.run(["-q"], as_user=False).ok()
    assert dropped(tern) == []
    assert not tern.path("mail", "alice").exists()
    assert "ceo@bank.example" not in tern.mainlog()
    assert re.search(r"maildrop: forged from root removed: not a file "
                     r"sendmail made", tern.rejectlog()), tern.rejectlog()


def test_a_huge_sparse_file_is_not_read(tern, user):
    """A file larger than any message under message_size_limit is
    removed unread: a sparse one costs its owner nothing and would hold
    the pickup and the queue run while it was hashed.  Its owner is told,
    without a copy."""
    big = maildrop(tern) / "big"
    r = as_user(user, "truncate", "-s", "64G", str(big))
    assert r.returncode == 0, r
    assert as_user(user, "chmod", "0640", str(big)).returncode == 0
    assert tern.run(["-q"], as_user=False, timeout=20).ok()
    assert dropped(tern) == []
    assert re.search(r"maildrop: big from terndrop refused: larger than "
                     r"any message", tern.rejectlog()), tern.rejectlog()
    [note] = tern.wait_mbox(USER)
    assert b"larger than any message under message_size_limit" in note
    assert b"This is what you submitted" not in note


def test_a_fifo_and_a_directory(tern, user):
    """A FIFO is removed without blocking the pickup; a directory is left
    alone."""
    assert as_user(user, "mkfifo", "-m", "0640",
                   str(maildrop(tern) / "fifo")).returncode == 0
    assert as_user(user, "mkdir", str(maildrop(tern) / "dir")).returncode == 0
    assert tern.run(["-q"], as_user=False, timeout=20).ok()
    assert dropped(tern) == ["dir"]
    assert "maildrop: fifo from terndrop removed" in tern.rejectlog()


def refused_after_the_limit_fell(tern, user, subject, body):
    """sendmail accepts a message; before the pickup comes, the
    administrator lowers message_size_limit to 2K.  The message is not
    delivered, the file goes, and its owner's notice (returned) comes
    from the null sender."""
    r = sendmail(tern, user, ["alice@test.example"],
                 make_message(subject=subject, body=body))
    assert r.returncode == 0, r
    assert len(dropped(tern)) == 1
    tern.config(main="message_size_limit = 2K")
    os.chmod(tern.path("mail"), 0o1777)
    assert tern.run(["-q"], as_user=False).ok()
    assert dropped(tern) == []
    assert not tern.path("mail", "alice").exists()
    [note] = tern.wait_mbox(USER)
    assert b"Subject: Mail submission failed" in note
    assert re.search(rb"^Return-path: <>", note, re.M)
    return note


def test_a_submission_refused_later_is_returned_to_its_owner(tern, user):
    """The pickup reads it and the reception refuses it: the owner gets
    a notice (without its copy here, which would make the notice too big
    under the new limit)."""
    note = refused_after_the_limit_fell(tern, user, "too late",
                                        b"z" * 3000 + b"\n")
    assert b"larger than message_size_limit" in note
    assert re.search(r"maildrop: \S+ from terndrop refused: larger than",
                     tern.rejectlog())


def test_an_accepted_submission_over_a_lowered_limit_is_not_lost(tern,
                                                                  user):
    """The file is larger than any message under the new limit (twice
    the limit and a megabyte of records), so the pickup does not read
    it; its owner is still told that it was not sent, without a copy."""
    note = refused_after_the_limit_fell(tern, user, "far too late",
                                        b"q" * 1200000 + b"\n")
    assert b"larger than any message under message_size_limit (2048" \
        in note
    assert b"far too late" not in note and b"qqqq" not in note
    assert re.search(r"maildrop: \S+ from terndrop refused: larger than "
                     r"any message", tern.rejectlog())


def test_what_the_pickup_would_refuse_sendmail_refuses(tern, user):
    """sendmail reads the message as the pickup will before it answers:
    -t without recipients in the header, a header section over the
    limits, are refused to the user, as on a direct submission."""
    tern.config(main="header_count_max = 5")
    r = sendmail(tern, user, ["-t"], b"Subject: nobody\r\n\r\nbody\r\n")
    assert r.returncode == 64, r
    assert b"no recipients found in the message" in r.stderr
    many = b"".join(b"X-%d: y\r\n" % i for i in range(10))
    r = sendmail(tern, user, ["alice@test.example"],
                 many + b"\r\nbody\r\n")
    assert r.returncode == 65, r
    assert dropped(tern) == []


def test_a_file_the_pickup_refuses_goes_back_to_its_owner(tern, user):
    """A well-formed file whose message the pickup refuses (here -t
    without recipients, written by hand: sendmail would have refused it)
    is removed; the reason is in mainlog and rejectlog, and its owner
    gets a notice from the null sender."""
    import hashlib
    rest = b"t\0\0Subject: nobody\n\nbody\n"
    head = b"tern-maildrop 1 %016x %s\n" % (
        len(rest), hashlib.sha256(rest).hexdigest().encode())
    f = maildrop(tern) / "00000000000000aa"
    f.write_bytes(head + rest)
    os.chown(f, user.pw_uid, tern.gid)
    os.chmod(f, 0o640)
    tern.start_daemon(as_user=False)
    [note] = tern.wait_mbox(USER)
    assert b"no recipients in its header (-t)" in note
    assert b"Subject: nobody" in note      # the copy of what was sent
    assert "00000000000000aa from terndrop refused: no recipients" in \
        tern.rejectlog()
    assert dropped(tern) == []


def test_the_user_cannot_read_or_remove_others_files(tern, user):
    """The directory is not readable by others and sticky: a user can
    neither list it nor remove another user's file."""
    other = ensure_user("terndrop2")
    r = sendmail(tern, other, ["alice@test.example"], make_message())
    assert r.returncode == 0, r
    [name] = dropped(tern)
    r = subprocess.run(["setpriv", f"--reuid={user.pw_uid}",
                        f"--regid={user.pw_gid}", "--init-groups", "--",
                        "sh", "-c", f"ls {maildrop(tern)}; "
                        f"rm -f {maildrop(tern) / name}; "
                        f"cat {maildrop(tern) / name}"],
                       capture_output=True)
    assert b"Permission denied" in r.stderr
    assert dropped(tern) == [name]
    assert pwd.getpwuid(os.stat(maildrop(tern) / name).st_uid).pw_name == \
        "terndrop2"


def test_the_from_header_gets_the_users_name(tern, user):
    """Without -F, the gecos field names the user, "&" standing for the
    login with its first letter upper cased; -F overrides it."""
    subprocess.run(["usermod", "-c", "& the Dropper,Room 42", USER],
                   check=True)
    try:
        tern.start_daemon(as_user=False)
        for args in ([], ["-F", "Someone Else"]):
            r = sendmail(tern, user, [*args, "alice@test.example"],
                         b"Subject: gecos\r\n\r\nbody\r\n")
            assert r.returncode == 0, r
        msgs = tern.wait_mbox("alice", 2)
    finally:
        subprocess.run(["usermod", "-c", "", USER], check=True)
    froms = sorted(re.search(rb"^From: (.*)$", m, re.M).group(1)
                   for m in msgs)
    assert froms == [b'"Terndrop the Dropper,Room 42" <terndrop@test.example>',
                     b"Someone Else <terndrop@test.example>"]

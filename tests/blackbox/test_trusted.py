"""trusted_users and trusted_groups (docs/config.md): who may set the
envelope sender with -f.  The caller is another user than tern's: its
real ids are that user's while its effective ids are tern's, so that it
can write the test's spool (a real system has the spool writable by
tern only; what is trusted is decided by the real ids, as in Exim)."""

import grp
import pwd
import re
import subprocess

import pytest

from tern_helpers import IS_ROOT, SANITIZE, ensure_user, make_message

pytestmark = pytest.mark.skipif(
    not IS_ROOT, reason="runs tern with real ids of a second user")

OTHER = "terntrust"
SUPP = "terntrust-x"


def ensure_group(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], capture_output=True)
        return grp.getgrnam(name).gr_gid


def submit_as_other(tern, groups=()):
    """sendmail -f boss@example.org as OTHER; the envelope sender used."""
    other = ensure_user(OTHER)
    me = pwd.getpwnam(tern.user)
    argv = ["setpriv", f"--ruid={other.pw_uid}", f"--euid={me.pw_uid}",
            f"--rgid={other.pw_gid}", f"--egid={me.pw_gid}"]
    argv += [f"--groups={','.join(map(str, groups))}"] if groups else \
        ["--clear-groups"]
    argv += ["--"] + tern.argv(["-odi", "-f", "boss@example.org",
                                "alice@test.example"], prog="sendmail",
                               as_user=False)
    before = len(tern.mbox("alice")) if tern.path("mail", "alice").exists() \
        else 0
    r = subprocess.run(argv, input=make_message(), capture_output=True,
                       env=tern.env(), cwd=tern.dir, timeout=60)
    # Under the sanitizers LeakSanitizer, which cannot run in a process
    # whose real and effective ids differ (a secure exec), fails the
    # process at its exit; what counts is the mailbox and the log.
    assert r.returncode == 0 or (
        SANITIZE and b"LeakSanitizer" in r.stderr), r
    msgs = tern.wait_mbox("alice", before + 1)
    m = re.search(rb"^Return-path: <([^>]*)>", msgs[-1], re.M)
    return m.group(1).decode()


def test_untrusted_user_cannot_set_the_sender(tern):
    tern.config()
    assert submit_as_other(tern) == f"{OTHER}@test.example"
    assert f"untrusted user {OTHER}: -f boss@example.org ignored" in \
        tern.mainlog()


def test_trusted_users(tern):
    tern.config(main=f"trusted_users = someone : {OTHER}\n")
    assert submit_as_other(tern) == "boss@example.org"


def test_trusted_groups_real_group(tern):
    ensure_user(OTHER)
    tern.config(main=f"trusted_groups = nosuchgroup-tern : {OTHER}\n")
    assert submit_as_other(tern) == "boss@example.org"


def test_trusted_groups_supplementary_group_by_number(tern):
    gid = ensure_group(SUPP)
    tern.config(main=f"trusted_groups = {gid}\n")
    assert submit_as_other(tern, groups=[gid]) == "boss@example.org"
    # the same caller without that group is not trusted
    assert submit_as_other(tern) == f"{OTHER}@test.example"

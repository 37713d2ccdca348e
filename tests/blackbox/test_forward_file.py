"""The forwardfile director: a user's .forward with addresses, pipes,
files and "\\user"; forbid_pipe; check_local_user; insecure files."""

import os
import re

from tern_helpers import LOG_HEAD, read_mbox, split_message

# The standard directors with a forwardfile director before localuser.
# The .forward of user U is @DIR@/home/U/.forward (`directory`), so that
# the tests need no real home directories.
FORWARD_CONFIG = """\
primary_hostname = test.example
qualify_domain = test.example
local_domains = test.example
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@
@MAIN@

begin transports

local_mbox:
  driver = appendfile
  file = @DIR@/mail/$local_part
  return_path_add

address_pipe:
  driver = pipe

address_file:
  driver = appendfile

begin directors

system_aliases:
  driver = aliasfile
  file = @DIR@/aliases
  search_type = lsearch
  file_transport = address_file

userforward:
  driver = forwardfile
  file = .forward
  directory = @DIR@/home/${local_part}
  pipe_transport = address_pipe
  file_transport = address_file
@FWD@

localuser:
  driver = localuser
  transport = local_mbox
"""

RECORD = """#!/bin/sh
# a pipe command: append the message to the file named by $1
cat >> "$1"
"""


def forward_setup(tern, forward, options="", user=None, mode=0o644):
    tern.config(FORWARD_CONFIG.replace("@FWD@", options))
    tern.script("record", RECORD)
    user = user or tern.user
    os.makedirs(tern.path("home", user), exist_ok=True)
    tern.own(tern.path("home"), recursive=True)
    return tern.write(f"home/{user}/.forward", forward, mode=mode)


def submit(tern, rcpt, body=b"forward me\n"):
    r = tern.run(["-odi", "-i", rcpt],
                 input=b"Subject: fwd\n\n" + body, prog="sendmail")
    assert r.returncode == 0, r


def test_forward_to_address_pipe_file_and_self(tern):
    forward_setup(tern, "# my forwarding\n"
                "alice,\n"
                '"|@DIR@/bin/record @DIR@/out/pipe"\n'
                "@DIR@/out/fwd.mbox, \\@USER@\n")
    submit(tern, f"{tern.user}@test.example")
    tern.wait_queue_empty()
    # alice is an alias to the file @DIR@/mail/alice
    for raw in (tern.mbox("alice")[0], tern.mbox(tern.user)[0],
                read_mbox(tern.path("out", "fwd.mbox"))[0]):
        hdrs, body = split_message(raw)
        assert body == b"forward me\n" and hdrs["Subject"] == "fwd"
    assert len(tern.mbox(tern.user)) == 1   # "\user": once, not forwarded
    piped = tern.path("out", "pipe").read_bytes()
    assert b"\nSubject: fwd\n" in piped and b"forward me\n" in piped
    (msgid,) = tern.arrivals()
    lines = tern.deliveries(msgid)
    assert len(lines) == 4, lines
    assert any("R=userforward T=address_pipe" in l for l in lines), lines
    assert any(f"{tern.user}@test.example R=localuser" in l for l in lines)


def test_missing_forward_declines_to_localuser(tern):
    forward_setup(tern, "alice\n")
    os.unlink(tern.path("home", tern.user, ".forward"))
    submit(tern, f"{tern.user}@test.example")
    tern.wait_queue_empty()
    assert len(tern.mbox(tern.user)) == 1
    assert not tern.path("mail", "alice").exists()


def test_forbid_pipe(tern):
    forward_setup(tern, 'alice, "|@DIR@/bin/record @DIR@/out/pipe"\n',
          options="  forbid_pipe")
    submit(tern, f"{tern.user}@test.example")
    (msgid,) = tern.queue_ids()
    assert re.search(LOG_HEAD + re.escape(msgid) + r" == .*R=userforward "
                     r".*not permitted \(forbid_pipe\)", tern.mainlog(),
                     re.M), tern.mainlog()
    assert not tern.path("out", "pipe").exists()
    assert not tern.path("mail", "alice").exists()   # nothing half done


def test_check_local_user(tern):
    # "dave" is no passwd user: his .forward is not even read ...
    forward_setup(tern, "alice\n", user="dave")
    r = tern.run(["-bv", "dave@test.example"])
    assert r.returncode != 0, r
    # ... unless check_local_user is turned off (then the file name may
    # not contain the unchecked local part: taint)
    forward_setup(tern, "alice\n", user="dave",
                  options="  no_check_local_user\n  local_parts = dave")
    tern.config(tern.conf.read_text().replace("home/${local_part}",
                                              "home/dave"))
    r = tern.run(["-bv", "dave@test.example"])
    assert r.returncode == 0, r
    submit(tern, "dave@test.example")
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1


def test_group_or_world_writable_forward_refused(tern):
    for mode, n in ((0o664, 1), (0o646, 2)):
        fwd = forward_setup(tern, "alice\n", mode=mode)
        os.chmod(fwd, mode)
        submit(tern, f"{tern.user}@test.example")
        ids = tern.queue_ids()
        assert len(ids) == n, ids
        assert re.search(r" == " + re.escape(tern.user) +
                         r"@test\.example R=userforward .*bad mode \(0" +
                         f"{mode:o}" + r"\)", tern.mainlog()), tern.mainlog()
    assert not tern.path("mail", "alice").exists()
    assert not tern.path("mail", tern.user).exists()
    # fixed: the next run delivers both to alice
    os.chmod(tern.path("home", tern.user, ".forward"), 0o644)
    r = tern.run(["-qf"])
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 2


def test_passwd_read_once_for_both_directors(tern):
    """forwardfile's check_local_user and localuser ask the core about
    the same user, at RCPT and again for the delivery, all in the
    reception process, which delivers its message itself: the passwd
    file is read once (docs/sdk.md, find_user)."""
    from tern_helpers import traced_processes
    tern.config(FORWARD_CONFIG.replace("@FWD@", ""),
                main="daemon_smtp_ports = @PORT@\nlocal_interfaces = 127.0.0.1")
    os.makedirs(tern.path("home", tern.user), exist_ok=True)  # no .forward
    tern.own(tern.path("home"), recursive=True)
    daemon = tern.start_daemon()
    calls, msgid = traced_processes(tern, daemon, [f"{tern.user}@test.example"])
    trace = "\n".join(" ".join(c) for c in calls)
    forwards = [c for c in calls if c[1] == "openat" and ".forward" in c[2]]
    assert len(forwards) >= 1, trace  # forwardfile did look
    passwd = [c for c in calls if c[1] == "openat" and "/etc/passwd" in c[2]]
    assert len(passwd) == 1, trace
    assert len(read_mbox(tern.path("mail", tern.user))) == 1
    assert len(tern.deliveries(msgid)) == 1

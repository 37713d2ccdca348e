"""Started by root: a .forward is read as its user (it may be readable by
no one else), pipes and files from it run as that user, check_ancestor
stops a forwarding loop between two users, and the pipe transport's
`user` option runs the command as that user.  Root only, like
test_privilege.py: the rest of the suite runs tern rootless."""

import os

import pytest

from tern_helpers import IS_ROOT, ensure_user, make_message, split_message

pytestmark = pytest.mark.skipif(
    not IS_ROOT, reason="starts tern as root: run the tests as root (CI does)")

ROOT_CONFIG = """\
primary_hostname = test.example
qualify_domain = test.example
local_domains = test.example
daemon_smtp_ports = @PORT@
local_interfaces = 127.0.0.1
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@

begin transports

local_mbox:
  driver = appendfile
  file = @DIR@/mail/$local_part

address_pipe:
  driver = pipe

as_terntest2:
  driver = pipe
  user = terntest2

begin directors

system_aliases:
  driver = aliasfile
  file = @DIR@/aliases
  search_type = lsearch
  pipe_transport = as_terntest2

userforward:
  driver = forwardfile
  file = .forward
  directory = @DIR@/home/${local_part}
  pipe_transport = address_pipe
  check_ancestor
  # RCPT is verified by the reception process, which runs as tern_user
  # for good and cannot read a private .forward (as in Exim's default)
  no_verify

localuser:
  driver = localuser
  transport = local_mbox
"""


@pytest.fixture
def users():
    return [ensure_user(n, home=f"/home/{n}") for n in ("terntest1",
                                                          "terntest2")]


def private_forward(tern, pw, text):
    """@DIR@/home/USER/.forward, mode 0600 in a 0700 directory, both the
    user's: only that user (and root) can read it."""
    home = tern.path("home", pw.pw_name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(tern.path("home"), 0, 0)
    os.chmod(tern.path("home"), 0o755)
    fwd = home / ".forward"
    fwd.write_text(tern.subst(text))
    for p, mode in ((home, 0o700), (fwd, 0o600)):
        os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(p, mode)


def start(tern, aliases=""):
    tern.config(ROOT_CONFIG, aliases=aliases)
    for d in ("mail", "out"):
        os.chmod(tern.path(d), 0o1777)
    tern.start_daemon(as_user=False)


def test_forward_read_as_user_and_pipe_runs_as_user(tern, users):
    t1 = users[0]
    private_forward(tern, t1, "\"|/bin/sh -c 'id -u > @DIR@/out/uid1'\", "
                              "\\terntest1\n")
    start(tern)
    assert tern.send("terntest1@test.example",
                     make_message(to="terntest1@test.example",
                                  body=b"for me\n")) == {}
    tern.wait_queue_empty()
    assert tern.path("out", "uid1").read_text().strip() == str(t1.pw_uid)
    assert os.stat(tern.path("out", "uid1")).st_uid == t1.pw_uid
    (raw,) = tern.mbox("terntest1")
    assert split_message(raw)[1] == b"for me\n"
    assert os.stat(tern.path("mail", "terntest1")).st_uid == t1.pw_uid


def test_check_ancestor_stops_loop_between_users(tern, users):
    private_forward(tern, users[0], "terntest2\n")
    private_forward(tern, users[1], "terntest1\n")
    start(tern)
    assert tern.send("terntest1@test.example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox("terntest1")) == 1, tern.mainlog()
    assert not tern.path("mail", "terntest2").exists()


def test_pipe_transport_user(tern, users):
    start(tern, aliases="other: \"|/bin/sh -c 'id -u > @DIR@/out/uid2'\"\n")
    assert tern.send("other@test.example") == {}
    tern.wait_queue_empty()
    assert tern.path("out", "uid2").read_text().strip() == \
        str(users[1].pw_uid), tern.mainlog()

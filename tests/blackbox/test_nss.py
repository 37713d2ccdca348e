"""A passwd or group source that fails (an LDAP or sssd server down) must
defer, never pass for "no such user": the transport's `user` and `group`,
the login name for initgroups, and the localuser director, at RCPT and at
delivery; while a user the source says does not exist still is one.
A real failing source: tests/nss/nss_ternfail.c, a test NSS module that
tern loads through an /etc/nsswitch.conf bind-mounted in a private mount
namespace ("passwd: files ternfail").  Root only: the mount, and
deliveries as uids other than tern_user's."""

import grp
import os
import pwd
import re
from pathlib import Path

import pytest

from tern_helpers import IS_ROOT, REPO, STANDARD_CONFIG, make_message, \
    wait_for

pytestmark = pytest.mark.skipif(
    not IS_ROOT, reason="mounts over /etc/nsswitch.conf in a namespace and "
    "delivers as other users: run the tests as root (CI does)")

NSS_DIR = Path(os.environ.get("TERN_TEST_NSS_DIR")
               or REPO / "build" / "testnss")

# Transports and directors added to the standard configuration; each
# transport writes one fixed file, so the smartuser directors need not
# vouch for $local_part.
TRANSPORTS = """\
by_user:
  driver = appendfile
  file = @DIR@/mail/by_user
  user = @NSSUSER@

by_uid:
  driver = appendfile
  file = @DIR@/mail/by_uid
  user = @NSSUID@

by_group:
  driver = appendfile
  file = @DIR@/mail/by_group
  group = nssgroup

by_unknown_user:
  driver = appendfile
  file = @DIR@/mail/by_unknown_user
  user = nosuchuser

by_unknown_group:
  driver = appendfile
  file = @DIR@/mail/by_unknown_group
  group = nosuchgroup

with_initgroups:
  driver = appendfile
  file = @DIR@/mail/with_initgroups
  initgroups

"""

DIRECTORS = """\
to_user:
  driver = smartuser
  local_parts = to_user
  transport = by_user

to_uid:
  driver = smartuser
  local_parts = to_uid
  transport = by_uid

to_group:
  driver = smartuser
  local_parts = to_group
  transport = by_group

to_unknown_user:
  driver = smartuser
  local_parts = to_unknown_user
  transport = by_unknown_user

to_unknown_group:
  driver = smartuser
  local_parts = to_unknown_group
  transport = by_unknown_group

# a user from a file (uid, gid, home), no passwd lookup to route it
table_user:
  driver = localuser
  local_parts = table_user
  lookup_type = lsearch
  lookup_file = @DIR@/users
  transport = with_initgroups

"""

ERRNO_DOWN = 11   # EAGAIN: what nss_ternfail says when it is down


def free_ids(n):
    """n numbers above 31000 that are neither a uid nor a gid here."""
    out = []
    for i in range(31337, 32000):
        try:
            pwd.getpwuid(i)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(i)
            continue
        except KeyError:
            pass
        out.append(i)
        if len(out) == n:
            return out
    raise AssertionError("no free uids above 31337")


class Source:
    """The ternfail passwd/group source of one tern instance: user
    nssuser (uid, gid) and group nssgroup (group_gid), neither of them in
    /etc/passwd or /etc/group; down() makes every lookup in it fail."""

    def __init__(self, tern):
        lib = NSS_DIR / "libnss_ternfail.so.2"
        if not lib.is_file():
            pytest.fail(f"{lib} is missing: build the tests (tests/nss) and "
                        "set TERN_TEST_NSS_DIR")
        self.tern = tern
        self.uid, self.group_gid = free_ids(2)
        self.gid = self.uid
        self.control = tern.path("nss-control")
        conf = re.sub(r"(?m)^(passwd|group):.*$", r"\1: files ternfail",
                      Path("/etc/nsswitch.conf").read_text())
        if "ternfail" not in conf:
            conf += "passwd: files ternfail\ngroup: files ternfail\n"
        nsswitch = tern.write("nsswitch.conf", conf)
        tern.wrap = ["unshare", "--mount", "--propagation", "private",
                     "sh", "-c", 'mount --bind "$0" /etc/nsswitch.conf && '
                     'exec "$@"', str(nsswitch)]
        tern.extra_env = {"TERN_TEST_NSS": str(self.control),
                          "LD_LIBRARY_PATH": str(NSS_DIR)}
        tern.write("users", f"table_user: {self.uid} {self.gid} @DIR@\n")

    def up(self):
        self.tern.write("nss-control",
                        f"up\nuser nssuser {self.uid} {self.gid} @DIR@\n"
                        f"group nssgroup {self.group_gid}\n")

    def down(self):
        self.tern.write("nss-control", "down\n")


@pytest.fixture
def source(tern):
    """tern as root with the standard configuration and the additions
    above, every tern command running in the namespace, the source up."""
    s = Source(tern)
    conf = (STANDARD_CONFIG
            .replace("begin transports\n\n", "begin transports\n\n" +
                     TRANSPORTS)
            .replace("begin directors\n\n", "begin directors\n\n" +
                     DIRECTORS))
    assert TRANSPORTS in conf and DIRECTORS in conf
    tern.config(conf.replace("@NSSUSER@", "nssuser")
                .replace("@NSSUID@", str(s.uid)))
    os.chmod(tern.path("mail"), 0o1777)   # deliveries as nssuser
    s.up()
    return s


def send(tern, local_part):
    rcpt = f"{local_part}@test.example"
    assert tern.send(rcpt, make_message(to=rcpt)) == {}
    return tern.arrivals()[-1]


def assert_deferred(tern, msgid, rcpt, text):
    """msgid's rcpt deferred with errno EAGAIN and text in the log; the
    message waits in the queue, not frozen."""
    rx = (re.escape(msgid) + " == " + re.escape(rcpt) +
          rf" .*defer \({ERRNO_DOWN}\): .*{text}")
    tern.wait_for_log(rx)
    wait_for(lambda: not tern.delivering(), 20, "the delivery to end")
    assert tern.queue_ids() == [msgid]
    listing = tern.run(["-bp"], as_user=False).ok().stdout
    assert msgid in listing and "*** frozen ***" not in listing, listing
    assert not any("Frozen" in l for l in tern.log_lines(msgid))
    assert not tern.paniclog(), tern.paniclog()


def retry_delivers(tern, source, msgid, box, uid, gid):
    """With the source up, a forced queue run (-qf, which leaves frozen
    messages alone) delivers msgid to mail/box as uid:gid."""
    source.up()
    tern.stop()
    tern.run(["-qf"], as_user=False).ok()
    tern.wait_completed(msgid)
    tern.wait_queue_empty()
    assert len(tern.mbox(box)) == 1
    st = os.stat(tern.path("mail", box))
    assert (st.st_uid, st.st_gid) == (uid, gid), \
        f"mail/{box} belongs to {st.st_uid}:{st.st_gid}, want {uid}:{gid}"


@pytest.mark.parametrize("rcpt,box,spec", [
    ("to_user", "by_user", 'user "nssuser"'),
    ("to_uid", "by_uid", "uid @UID@"),
])
def test_transport_user_source_down_defers(tern, source, rcpt, box, spec):
    """The transport's user, by name or by uid (whose gid comes from
    passwd), cannot be looked up: the delivery is deferred, not frozen
    as an unknown user, nor made with tern_user's gid; once the source
    is back, the queue run delivers as the user."""
    source.down()
    tern.start_daemon(as_user=False)
    msgid = send(tern, rcpt)
    assert_deferred(tern, msgid, f"{rcpt}@test.example",
                    "cannot look up " + re.escape(spec.replace(
                        "@UID@", str(source.uid))) +
                    ": Resource temporarily unavailable")
    assert not tern.path("mail", box).exists()
    retry_delivers(tern, source, msgid, box, source.uid, source.gid)


def test_transport_group_source_down_defers(tern, source):
    source.down()
    tern.start_daemon(as_user=False)
    msgid = send(tern, "to_group")
    assert_deferred(tern, msgid, "to_group@test.example",
                    'cannot look up group "nssgroup": '
                    "Resource temporarily unavailable")
    assert not tern.path("mail", "by_group").exists()
    retry_delivers(tern, source, msgid, "by_group", tern.uid,
                   source.group_gid)


def test_initgroups_login_source_down_defers(tern, source):
    """A uid that came without a name (localuser's lookup_type) and a
    transport with initgroups: the login name comes from getpwuid.  When
    that fails the delivery defers instead of going ahead without the
    user's supplementary groups."""
    source.down()
    tern.start_daemon(as_user=False)
    msgid = send(tern, "table_user")   # routed without passwd
    assert_deferred(tern, msgid, "table_user@test.example",
                    f"cannot look up uid {source.uid}: "
                    "Resource temporarily unavailable")
    assert not tern.path("mail", "with_initgroups").exists()
    retry_delivers(tern, source, msgid, "with_initgroups", source.uid,
                   source.gid)


def test_localuser_source_down_451_at_rcpt_and_defers(tern, source):
    """localuser (through the core's users_find): with the source down,
    RCPT gets 451, not 550; a message accepted while it was up is
    deferred by a delivery while it is down, and delivered after."""
    tern.start_daemon(["-odq"], as_user=False)
    source.down()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        code, text = c.cmd("RCPT TO:<nssuser@test.example>")
        assert code == 451, (code, text)
        c.expect("QUIT", 221)
    tern.wait_for_log(r"temporarily rejected RCPT <nssuser@test\.example>",
                      which="reject")
    source.up()
    msgid = send(tern, "nssuser")
    source.down()
    tern.run(["-qf"], as_user=False).ok()
    assert_deferred(tern, msgid, "nssuser@test.example",
                    "director localuser: cannot look up user nssuser: "
                    "Resource temporarily unavailable")
    assert not tern.path("mail", "nssuser").exists()
    retry_delivers(tern, source, msgid, "nssuser", source.uid, source.gid)


@pytest.mark.parametrize("what", ["user", "group"])
def test_transport_unknown_user_or_group_still_frozen(tern, source, what):
    """A source that answers "no such user" (or group): that is a
    configuration error, as before: the message is frozen."""
    tern.start_daemon(as_user=False)
    msgid = send(tern, f"to_unknown_{what}")
    tern.wait_for_log(re.escape(msgid) + " Frozen")
    assert any(f'unknown {what} "nosuch{what}"' in l
               for l in tern.log_lines(msgid)), tern.log_lines(msgid)
    assert "*** frozen ***" in tern.run(["-bp"], as_user=False).ok().stdout
    assert not tern.path("mail", f"by_unknown_{what}").exists()

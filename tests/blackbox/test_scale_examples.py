"""The scale-out example configurations (issue 10, point 1):
examples/front-end.conf (RAM spool, one try then fallback_hosts),
examples/retry-host.conf (disk spool, long retries) and
examples/backup-mx.conf (relay_to_domains, by MX to the primary) must
parse, with their macros pointing into the test directory, and say what
docs/scale-out.md says they say."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def macros(tern):
    return ["-D", f"SPOOL_DIR={tern.spool}",
            "-D", f"LOG_PATH={tern.logdir}/%slog",
            "-D", f"TERN_USER={tern.user}",
            "-D", f"SMTP_PORTS={tern.port}"]


def bp(tern, name, *what):
    r = tern.run(["-C", str(EXAMPLES / name), *macros(tern), "-bP", *what],
                 conf=False)
    assert r.returncode == 0, f"{name}: {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stderr == "", r.stderr
    return r.stdout


def option(text, name):
    m = re.search(r"^\s*" + re.escape(name) + r" = ?(.*)$", text, re.M)
    assert m, f"{name} not in:\n{text}"
    return m.group(1)


@pytest.mark.parametrize("name", ["front-end.conf", "retry-host.conf",
                                  "backup-mx.conf"])
def test_example_parses(tern, name):
    out = bp(tern, name)
    assert option(out, "spool_directory") == str(tern.spool)
    assert option(out, "daemon_smtp_ports") == str(tern.port)
    assert bp(tern, name, "transport", "remote_smtp")
    # Rejected outright: a misspelt option would make -bP fail.
    assert "driver = smtp" in bp(tern, name, "transport", "remote_smtp")


def test_front_end_settings(tern):
    out = bp(tern, "front-end.conf")
    assert option(out, "spool_sync") == "false"
    assert option(out, "check_spool_space") not in ("0", "")
    assert option(out, "relay_to_domains") == "+served_domains"
    for router in ("mailstores", "dnslookup"):
        r = bp(tern, "front-end.conf", "router", router)
        assert option(r, "fallback_hosts") == "retry.example.net", r
    r = bp(tern, "front-end.conf", "-D", "RETRY_HOST=192.0.2.20",
           "router", "dnslookup")
    assert option(r, "fallback_hosts") == "192.0.2.20"


def test_front_end_ldap_variant(tern):
    """-DUSE_LDAP: the served domains are local and come from LDAP; the
    virtual_users director checks recipients (tests/multihost runs it)."""
    out = bp(tern, "front-end.conf", "-D", "USE_LDAP=1")
    assert option(out, "local_domains") == "+served_domains"
    assert option(out, "ldap_default_servers") == "ldap.example.net"
    d = bp(tern, "front-end.conf", "-D", "USE_LDAP=1", "director",
           "virtual_users")
    assert option(d, "transport") == "to_mailstores", d
    t = bp(tern, "front-end.conf", "-D", "USE_LDAP=1", "transport",
           "to_mailstores")
    assert option(t, "fallback_hosts") == "retry.example.net", t
    # Without it, nothing of the variant is there.
    assert option(bp(tern, "front-end.conf"), "local_domains") == "@"


def test_retry_host_settings(tern):
    out = bp(tern, "retry-host.conf")
    assert option(out, "spool_sync") == "true"
    assert option(out, "relay_from_hosts") == "+front_ends"
    assert option(out, "relay_to_domains") == ""


def test_backup_mx_settings(tern):
    out = bp(tern, "backup-mx.conf")
    assert option(out, "relay_to_domains") == "+served_domains"
    assert option(out, "relay_from_hosts") == ""
    r = bp(tern, "backup-mx.conf", "router", "primary_mx")
    assert option(r, "driver") == "dnslookup"


# ------------------------------------------------- the layout, on one host

def example_config(t, name, **defs):
    """tern.conf = macro definitions + the example (its .ifndef defaults
    give way to them)."""
    defs = {"SPOOL_DIR": t.spool, "LOG_PATH": f"{t.logdir}/%slog",
            "TERN_USER": t.user, "SMTP_PORTS": t.port, **defs}
    head = "".join(f"{k} = {v}\n" for k, v in defs.items())
    return t.config(head + (EXAMPLES / name).read_text())


@pytest.fixture
def three(three_terns):
    """Three instances (conftest.py's three_terns)."""
    return three_terns


def test_front_end_hands_over_to_retry_host(three):
    """The destination is down: the front end tries it once and the retry
    host takes the message in the same delivery; the front end's queue is
    empty at once; the retry host delivers when the destination is back."""
    from tern_helpers import ID_RE, LOG_HEAD, STANDARD_CONFIG
    fe, rh, dest = three
    example_config(fe, "front-end.conf", INTERFACES="127.0.0.1",
                   SERVED_DOMAINS="far.example",
                   MAILSTORE_HOSTS=f"127.0.0.3::{dest.port}",
                   RETRY_HOST=f"127.0.0.2::{rh.port}",
                   SPOOL_RESERVE="1K")
    example_config(rh, "retry-host.conf", INTERFACES="127.0.0.2",
                   SERVED_DOMAINS="far.example",
                   MAILSTORE_HOSTS=f"127.0.0.3::{dest.port}")
    dest.config(STANDARD_CONFIG.replace(
        "local_domains = test.example", "local_domains = far.example : "
        "test.example").replace("local_interfaces = 127.0.0.1",
                                "local_interfaces = 127.0.0.3"))
    fe.start_daemon()
    rh.start_daemon()
    fe.send("alice@far.example")
    m = rh.wait_for_log(LOG_HEAD + "(" + ID_RE + r") <= sender@example\.net "
                        r".*RI=(" + ID_RE + ")")
    rid, fid = m.group(1), m.group(2)
    fe.wait_completed(fid)
    fe.wait_queue_empty()
    lines = "\n".join(fe.log_lines(fid))
    # One try at the destination, then the retry host, in one delivery.
    assert re.search(r"=> alice@far\.example R=mailstores T=remote_smtp "
                     r"H=127\.0\.0\.2 \[127\.0\.0\.2\] "
                     r'C="250 2\.0\.0 OK id=' + rid + '"', lines), lines
    # The retry host keeps it: the destination is down.
    rh.wait_for_log(LOG_HEAD + re.escape(rid) + r" == alice@far\.example ")
    assert rh.queue_ids() == [rid]
    dest.start_daemon()
    rh.run(["-qf"]).ok()
    dest.wait_mbox("alice")
    rh.wait_completed(rid)
    assert len(dest.mbox("alice")) == 1

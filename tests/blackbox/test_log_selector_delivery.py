"""log_selector (docs/log.md) on the delivery side: what the =>, ->, **,
== and Completed lines carry, the smtp transport's part of them, and the
queue run and retry lines."""

import fcntl
import os
import re

import pytest

from remote_peers import Peer, make_cert
from tern_helpers import (LOG_HEAD, STANDARD_ALIASES, STANDARD_CONFIG,
                          free_port, make_message)

# the test peer offers STARTTLS with a self-signed certificate on purpose
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ALIASES = STANDARD_ALIASES + "team: list\nlist: alice\n"


def submit(tern, to="alice@test.example", odi=True, sender=None):
    before = set(tern.arrivals())
    args = (["-odi"] if odi else ["-odq"]) + \
        (["-f", sender] if sender is not None else []) + [to]
    tern.run(args, input=make_message(to=to), prog="sendmail").ok()
    # the first: a bounce may follow
    return [i for i in tern.arrivals() if i not in before][0]


def line_of(tern, mid, mark):
    lines = [ln for ln in tern.log_lines(mid) if f" {mark} " in ln]
    assert len(lines) == 1, tern.mainlog()
    return lines[0]


# ---------------------------------------------------------------- => lines

def test_delivery_line_has_no_optional_fields_by_default(tern):
    tern.config()
    mid = submit(tern, sender="sender@example.net")
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r"=> \S+/mail/alice <alice@test\.example> "
                     r"R=system_aliases T=address_file$", line), line
    assert re.search(re.escape(mid) + r" Completed$", tern.mainlog(), re.M)


def test_sender_return_path_size_and_times(tern):
    tern.config(main="log_selector = +sender_on_delivery "
                     "+return_path_on_delivery +delivery_size +queue_time "
                     "+deliver_time +queue_time_overall +millisec\n")
    mid = submit(tern, sender="sender@example.net")
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    m = re.search(r"=> \S+/mail/alice <alice@test\.example> "
                  r"F=<sender@example\.net> P=<sender@example\.net> "
                  r"R=system_aliases T=address_file S=(\d+) "
                  r"QT=(\d+)\.\d{3}s DT=(\d+)\.\d{3}s$", line)
    assert m, line
    # S=: what the transport wrote, its added headers included
    assert int(m.group(1)) == os.path.getsize(tern.path("mail", "alice"))
    assert int(m.group(2)) < 30 and int(m.group(3)) < 30
    assert re.search(re.escape(mid) + r" Completed QT=\d+\.\d{3}s$",
                     tern.mainlog(), re.M), tern.mainlog()


def test_durations_in_whole_seconds_without_millisec(tern):
    tern.config(main="log_selector = +queue_time +deliver_time\n")
    mid = submit(tern)
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r" T=address_file QT=\d+s DT=\d+s$", line), line


def test_bounce_sender_and_failure_lines(tern):
    tern.config(main="log_selector = +sender_on_delivery "
                     "+return_path_on_delivery\n")
    mid = submit(tern, to="no-such-user@test.example", sender="")
    # a routing failure: F=, but no P= (no transport ran)
    line = line_of(tern, mid, "**")
    assert re.search(r"\*\* no-such-user@test\.example F=<>: Unknown user$",
                     line), line


def test_all_parents(tern):
    tern.config(aliases=ALIASES)
    mid = submit(tern, to="team@test.example")
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r"=> \S+/mail/alice <team@test\.example> R=", line), line
    tern.config(main="log_selector = +all_parents\n", aliases=ALIASES)
    mid = submit(tern, to="team@test.example")
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r"=> \S+/mail/alice \(alice@test\.example, "
                     r"list@test\.example\) <team@test\.example> R=",
                     line), line


# ---------------------------------------------------------------- queue runs

def test_queue_run_lines(tern):
    tern.config()
    tern.run(["-q"]).ok()
    assert re.search(r"Start queue run: pid=\d+$", tern.mainlog(), re.M)
    assert re.search(r"End queue run: pid=\d+$", tern.mainlog(), re.M)
    tern.config(main="log_selector = -queue_run\n")
    before = tern.mainlog().count("queue run:")
    tern.run(["-q"]).ok()
    assert tern.mainlog().count("queue run:") == before


def frozen_message(tern):
    mid = submit(tern, odi=False)
    tern.run(["-Mf", mid]).ok()
    return mid


def test_skip_delivery_frozen(tern):
    tern.config()
    mid = frozen_message(tern)
    tern.run(["-q"]).ok()
    assert re.search(re.escape(mid) + r" Message is frozen$", tern.mainlog(),
                     re.M), tern.mainlog()
    tern.config(main="log_selector = -skip_delivery\n")
    n = tern.mainlog().count("Message is frozen")
    tern.run(["-q"]).ok()
    assert tern.mainlog().count("Message is frozen") == n
    assert tern.queue_ids() == [mid]


def spool_file(tern, mid):
    (path,) = [p for p in (tern.spool / "input").rglob(mid + "-M")]
    return path


def test_skip_delivery_locked(tern):
    tern.config()
    mid = submit(tern, odi=False)
    fd = os.open(spool_file(tern, mid), os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        tern.run(["-q"]).ok()
        want = (re.escape(mid) + r" Spool file for " + re.escape(mid) +
                r" is locked \(another process is handling this message\)$")
        assert re.search(want, tern.mainlog(), re.M), tern.mainlog()
        tern.config(main="log_selector = -skip_delivery\n")
        n = tern.mainlog().count(" is locked ")
        tern.run(["-q"]).ok()
        assert tern.mainlog().count(" is locked ") == n
    finally:
        os.close(fd)
    tern.run(["-q"]).ok()
    tern.wait_completed(mid)


# ---------------------------------------------------------------- retry_defer

RETRY_ALIASES = STANDARD_ALIASES + "locked: @DIR@/locked/box\n"


def locked_config(tern, main=""):
    tern.config(STANDARD_CONFIG + "\nbegin retry\n* * F,10m,5m\n",
                main=main, aliases=RETRY_ALIASES)
    locked = tern.path("locked")
    if not locked.exists():
        locked.mkdir()
        tern.own(locked)
        os.chmod(locked, 0o555)    # tern (not root) cannot create box


def test_retry_defer(tern):
    locked_config(tern)
    mid = submit(tern, to="locked@test.example")
    tern.run(["-q"]).ok()
    assert any("defer (-52): retry time not reached" in ln
               for ln in tern.log_lines(mid)), tern.mainlog()
    locked_config(tern, main="log_selector = -retry_defer\n")
    n = tern.mainlog().count("retry time not reached")
    tern.run(["-q"]).ok()
    assert tern.mainlog().count("retry time not reached") == n
    assert tern.queue_ids() == [mid]


# ---------------------------------------------------------------- smtp

@pytest.fixture
def tls_peer(tern):
    p = Peer("127.0.0.3", free_port(), tls_cert=make_cert(tern.dir))
    p.start()
    yield p
    p.stop()


@pytest.fixture
def plain_peer():
    p = Peer("127.0.0.3", free_port(), pipelining=False)
    p.start()
    yield p
    p.stop()


def smtp_config(tern, peer, main="", transport=""):
    text = STANDARD_CONFIG.replace("begin transports\n\n", (
        f"begin transports\n\nremote_smtp:\n  driver = smtp\n"
        f"  port = {peer.port}\n  connect_timeout = 5s\n{transport}\n"), 1)
    text += ("\nbegin routers\n\nsmarthost:\n  driver = manualroute\n"
             "  transport = remote_smtp\n  route_list = * 127.0.0.3\n"
             "\nbegin retry\n\n*   *   F,1h,10m\n")
    tern.config(text, main=main)


def test_smtp_defaults(tern, tls_peer):
    smtp_config(tern, tls_peer)
    mid = submit(tern, to="far@remote.example")
    tls_peer.wait_messages(1)
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    # no port (outgoing_port is off), X= and CV= (on), C= (on)
    assert re.search(r" T=remote_smtp H=127\.0\.0\.3 \[127\.0\.0\.3\] "
                     r"X=TLS1\.[23]:\S+ CV=no C=\"250 OK queued\"$",
                     line), line


def test_smtp_everything_on(tern, tls_peer):
    cert = tern.dir / "peer-cert.pem"
    smtp_config(tern, tls_peer, main=(
        "log_selector = +outgoing_port +incoming_interface +tls_peerdn "
        "+pipelining +delivery_size\n"), transport=(
        "  tls_verify_hosts = *\n  tls_sni = mx1.remote.test\n"
        f"  tls_verify_certificates = {cert}\n"))
    mid = submit(tern, to="far@remote.example")
    (m,) = tls_peer.wait_messages(1)
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    port = tls_peer.port
    assert re.search(r" T=remote_smtp S=(\d+) H=127\.0\.0\.3 "
                     rf"\[127\.0\.0\.3\]:{port} I=\[127\.0\.0\.\d+\]:\d+ "
                     r"X=TLS1\.[23]:\S+ CV=yes DN=\"CN=mx1\.remote\.test\" "
                     r"L C=\"250 OK queued\"$", line), line
    # S=: the bytes sent, CRLF line ends and the end dot not counted in
    # what the peer got
    size = int(re.search(r" S=(\d+) ", line).group(1))
    assert abs(size - len(m.data)) < 200, (size, len(m.data))


def test_smtp_everything_off(tern, tls_peer):
    smtp_config(tern, tls_peer, main=(
        "log_selector = -tls_cipher -tls_certificate_verified "
        "-smtp_confirmation +incoming_interface -outgoing_interface\n"))
    mid = submit(tern, to="far@remote.example")
    tls_peer.wait_messages(1)
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r" T=remote_smtp H=127\.0\.0\.3 \[127\.0\.0\.3\]$",
                     line), line


def test_smtp_no_pipelining_no_l(tern, plain_peer):
    smtp_config(tern, plain_peer, main="log_selector = +pipelining\n")
    mid = submit(tern, to="far@remote.example")
    plain_peer.wait_messages(1)
    tern.wait_completed(mid)
    line = line_of(tern, mid, "=>")
    assert re.search(r" H=127\.0\.0\.3 \[127\.0\.0\.3\] C=\"250 OK queued\"$",
                     line), line


def test_smtp_failure_line(tern, plain_peer):
    plain_peer.rcpt_codes["bad@remote.example"] = 550
    smtp_config(tern, plain_peer, main=(
        "log_selector = +return_path_on_delivery +deliver_time\n"))
    mid = submit(tern, to="bad@remote.example", sender="s@example.net")
    line = line_of(tern, mid, "**")
    assert re.search(r"\*\* bad@remote\.example P=<s@example\.net> "
                     r"R=smarthost T=remote_smtp H=127\.0\.0\.3 "
                     r"\[127\.0\.0\.3\]: SMTP error .* DT=\d+s$", line), line


def test_smtp_retry_defer(tern, plain_peer):
    plain_peer.stop()
    smtp_config(tern, plain_peer)
    mid = submit(tern, to="far@remote.example")
    assert any(" == far@remote.example " in ln for ln in
               tern.log_lines(mid)), tern.mainlog()
    tern.run(["-q"]).ok()
    want = (r"== far@remote\.example R=smarthost T=remote_smtp defer "
            r"\(-54\): retry time not reached for host")
    assert any(re.search(want, ln) for ln in tern.log_lines(mid)), \
        tern.mainlog()
    smtp_config(tern, plain_peer, main="log_selector = -retry_defer\n")
    n = tern.mainlog().count("retry time not reached")
    tern.run(["-q"]).ok()
    assert tern.mainlog().count("retry time not reached") == n
    assert tern.queue_ids() == [mid]

"""Remote delivery: dnslookup and manualroute routers and the smtp transport,
against a real DNS server (unbound, test zone remote.test on 127.0.0.1 and a
high port) and real SMTP peers (aiosmtpd on 127.0.0.2, .3, .4)."""

import re
import time

import pytest

from remote_peers import Peer, Unbound, make_cert
from tern_helpers import (ID_RE, LOG_HEAD, STANDARD_CONFIG, free_port,
                          make_message, wait_for)

REMOTE_TRANSPORT = """\
remote_smtp:
  driver = smtp
  port = @PEERPORT@
  connect_timeout = 5s
  command_timeout = 20s
@TRANSPORT@
"""

ROUTERS = """
begin routers

@ROUTERS@
dnslookup:
  driver = dnslookup
  transport = remote_smtp
@DNSLOOKUP@

begin retry

*   *   F,1h,1s
"""


@pytest.fixture
def dns(tern):
    u = Unbound(tern.path("dns"))
    yield u
    u.stop()


@pytest.fixture
def peers():
    """Three peers (not started) on one port: .2 = mx1, .3 = mx2, .4 = fb."""
    port = free_port()
    made = {ip: Peer(ip, port) for ip in ("127.0.0.2", "127.0.0.3",
                                          "127.0.0.4")}
    yield made
    for p in made.values():
        p.stop()


def remote_config(tern, dns, peers, transport="", routers="", dnslookup="",
                  main=""):
    port = next(iter(peers.values())).port
    text = STANDARD_CONFIG.replace(
        "begin transports\n\n",
        "begin transports\n\n" + REMOTE_TRANSPORT + "\n") + ROUTERS
    text = (text.replace("@PEERPORT@", str(port))
                .replace("@TRANSPORT@", transport)
                .replace("@ROUTERS@", routers)
                .replace("@DNSLOOKUP@", dnslookup))
    main = f"dns_servers = 127.0.0.1\ndns_port = {dns.port}\n" + main
    return tern.config(text, main=main)


def deliver_now(tern, to, **kw):
    """Submit with -odi (delivery in the foreground): the message id."""
    if isinstance(to, str):
        to = [to]
    before = set(tern.arrivals())
    msg = make_message(to=", ".join(to), **kw)
    r = tern.run(["-odi", "-f", "sender@example.net", *to], input=msg)
    r.ok()
    (mid,) = [i for i in tern.arrivals() if i not in before
              and re.search(LOG_HEAD + re.escape(i) + " <= sender@",
                            tern.mainlog(), re.M)]
    return mid


def test_mx_preference_followed(tern, dns, peers):
    remote_config(tern, dns, peers)
    for p in peers.values():
        p.start()
    mid = deliver_now(tern, "user@mx.remote.test", subject="by MX")
    (m,) = peers["127.0.0.2"].wait_messages(1)
    assert m.rcpts == ["user@mx.remote.test"]
    assert m.mail_from == "sender@example.net"
    assert b"Subject: by MX" in m.data
    assert peers["127.0.0.3"].connections == 0
    tern.wait_completed(mid)
    line = tern.wait_for_log(
        LOG_HEAD + re.escape(mid) + r" => user@mx\.remote\.test R=dnslookup "
        r"T=remote_smtp H=mx1\.remote\.test \[127\.0\.0\.2\] C=")
    assert line


def test_first_mx_down_second_gets_it(tern, dns, peers):
    remote_config(tern, dns, peers)
    peers["127.0.0.3"].start()
    mid = deliver_now(tern, "user@mx.remote.test")
    (m,) = peers["127.0.0.3"].wait_messages(1)
    assert m.rcpts == ["user@mx.remote.test"]
    tern.wait_completed(mid)
    assert re.search(re.escape(mid) + r" => user@mx\.remote\.test .*"
                     r"H=mx2\.remote\.test \[127\.0\.0\.3\]", tern.mainlog())


def test_all_mx_down_fallback_hosts(tern, dns, peers):
    remote_config(tern, dns, peers,
                  dnslookup="  fallback_hosts = fb.remote.test")
    peers["127.0.0.4"].start()
    mid = deliver_now(tern, "user@mx.remote.test")
    (m,) = peers["127.0.0.4"].wait_messages(1)
    assert m.rcpts == ["user@mx.remote.test"]
    tern.wait_completed(mid)


def test_all_down_deferred_then_queue_run(tern, dns, peers):
    remote_config(tern, dns, peers)
    mid = deliver_now(tern, "user@mx.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@mx\.remote\.test "
                      r"R=dnslookup T=remote_smtp defer \(111\)")
    assert tern.queue_ids() == [mid]
    assert not tern.log_lines(mid) or "Completed" not in tern.mainlog()
    peers["127.0.0.3"].start()
    time.sleep(1.1)  # the retry rule: F,1h,1s
    tern.run(["-q"]).ok()
    (m,) = peers["127.0.0.3"].wait_messages(1)
    assert m.rcpts == ["user@mx.remote.test"]
    tern.wait_completed(mid)
    assert tern.queue_ids() == []


def test_host_retry_time_honoured_by_q_and_forced_by_qf(tern, dns, peers):
    """A host that failed is not tried by -q before its retry time; -qf
    tries it at once (Exim's rule for forced runs)."""
    remote_config(tern, dns, peers)
    text = tern.conf.read_text().replace("F,1h,1s", "F,1h,1h")
    tern.conf.write_text(text)
    mid = deliver_now(tern, "user@mx.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@mx\.remote\.test ")
    peers["127.0.0.3"].start()
    tern.run(["-q"]).ok()
    assert peers["127.0.0.3"].messages == []
    assert tern.queue_ids() == [mid]
    tern.run(["-qf"]).ok()
    (m,) = peers["127.0.0.3"].wait_messages(1)
    assert m.rcpts == ["user@mx.remote.test"]
    tern.wait_completed(mid)


def test_no_mx_uses_address_record(tern, dns, peers):
    remote_config(tern, dns, peers)
    peers["127.0.0.3"].start()
    mid = deliver_now(tern, "user@arec.remote.test")
    (m,) = peers["127.0.0.3"].wait_messages(1)
    assert m.rcpts == ["user@arec.remote.test"]
    tern.wait_completed(mid)


def test_cname_domain(tern, dns, peers):
    remote_config(tern, dns, peers)
    peers["127.0.0.2"].start()
    deliver_now(tern, "user@alias.remote.test")
    (m,) = peers["127.0.0.2"].wait_messages(1)
    assert m.rcpts == ["user@alias.remote.test"]


def test_mx_without_address(tern, dns, peers):
    """Documented (docs/config.md, dnslookup): an MX host with no address
    is skipped; when no MX host has one, the address is deferred."""
    remote_config(tern, dns, peers)
    peers["127.0.0.3"].start()
    r = tern.run(["-bt", "user@partial.remote.test"])
    assert r.returncode == 0 and "transport = remote_smtp" in r.stdout, r
    mid = deliver_now(tern, "user@partial.remote.test")
    (m,) = peers["127.0.0.3"].wait_messages(1)
    tern.wait_completed(mid)
    mid = deliver_now(tern, "user@ghostmx.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@ghostmx\.remote\.test "
                      r"R=dnslookup defer .*non-existent hosts")
    assert mid in tern.queue_ids()


def test_mx_to_ip_ignored_and_nxdomain_fails(tern, dns, peers):
    remote_config(tern, dns, peers)
    r = tern.run(["-bt", "user@mxip.remote.test"])
    assert r.returncode == 1, r      # deferred: the only MX is ignored
    assert "IP address" in tern.mainlog()
    r = tern.run(["-bt", "user@missing.remote.test"])
    assert r.returncode == 2, r
    assert "unrouteable mail domain" in r.stdout


def test_self_is_frozen_by_default(tern, dns, peers):
    remote_config(tern, dns, peers)
    r = tern.run(["-bt", "user@self.remote.test"])
    assert r.returncode == 1 and "points to local host" in r.stdout, r
    remote_config(tern, dns, peers, dnslookup="  self = fail")
    r = tern.run(["-bt", "user@self.remote.test"])
    assert r.returncode == 2 and "points to local host" in r.stdout, r


def test_hosts_treat_as_local(tern, dns, peers):
    """A host named in hosts_treat_as_local is this host, whatever its
    address: as the lowest MX it is `self` (frozen by default); lower down
    only the hosts preferred to it are kept."""
    remote_config(tern, dns, peers)
    r = tern.run(["-bt", "user@single.remote.test"])
    assert r.returncode == 0 and "router = dnslookup" in r.stdout, r
    remote_config(tern, dns, peers, main="hosts_treat_as_local = "
                  "*.nowhere.test : mx1.remote.test\n")
    r = tern.run(["-bt", "user@single.remote.test"])
    assert r.returncode == 1 and "points to local host mx1.remote.test " \
        "[127.0.0.2]" in r.stdout, r

    # mx2 (MX 20) is "us": only mx1 (MX 10) may be used, and it is down
    remote_config(tern, dns, peers, main="hosts_treat_as_local = "
                  "MX2.remote.test\n")
    peers["127.0.0.3"].start()
    mid = deliver_now(tern, "user@mx.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@mx\.remote\.test .*"
                      r"127\.0\.0\.2")
    assert peers["127.0.0.3"].connections == 0
    # without it mx2 takes the message
    remote_config(tern, dns, peers)
    tern.run(["-M", mid]).ok()
    peers["127.0.0.3"].wait_messages(1)
    tern.wait_completed(mid)


def test_hosts_treat_as_local_lookup_failure_defers(tern, dns, peers):
    remote_config(tern, dns, peers, main="hosts_treat_as_local = "
                  "lsearch;@DIR@/no-such-file\n")
    r = tern.run(["-bt", "user@single.remote.test"])
    assert r.returncode == 1, r
    assert "hosts_treat_as_local: checking mx1.remote.test" in r.stdout + \
        tern.mainlog(), r


def test_smtp_transport_refuses_a_host_treated_as_local(tern, dns, peers):
    port = peers["127.0.0.3"].port
    routers = (f"smarthost:\n  driver = manualroute\n"
               f"  transport = remote_smtp\n"
               f"  route_list = *  mx2.remote.test::{port}\n")
    remote_config(tern, dns, peers, routers=routers,
                  main="hosts_treat_as_local = mx2.remote.test\n")
    peers["127.0.0.3"].start()
    mid = deliver_now(tern, "user@b.elsewhere.test")
    tern.wait_for_log(re.escape(mid) + r" == user@b\.elsewhere\.test .*"
                      r"remote host address is the local host "
                      r"mx2\.remote\.test \[127\.0\.0\.3\] "
                      r"\(allow_localhost is false\)")
    assert peers["127.0.0.3"].connections == 0
    remote_config(tern, dns, peers, routers=routers,
                  transport="  allow_localhost",
                  main="hosts_treat_as_local = mx2.remote.test\n")
    tern.run(["-M", mid]).ok()
    peers["127.0.0.3"].wait_messages(1)
    tern.wait_completed(mid)


def test_backup_mx_only_more_preferred(tern, dns, peers):
    """We are MX 10 for backup.remote.test: only MX 5 (mx2) is used."""
    remote_config(tern, dns, peers)
    peers["127.0.0.2"].start()   # MX 20: must not be used
    mid = deliver_now(tern, "user@backup.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@backup\.remote\.test .*"
                      r"127\.0\.0\.3")
    assert peers["127.0.0.2"].connections == 0


def test_ip_literal_domain(tern, dns, peers):
    remote_config(tern, dns, peers)
    peers["127.0.0.4"].start()
    deliver_now(tern, "user@[127.0.0.4]")
    (m,) = peers["127.0.0.4"].wait_messages(1)
    assert m.rcpts == ["user@[127.0.0.4]"]


def test_one_rcpt_refused_other_delivered(tern, dns, peers):
    remote_config(tern, dns, peers)
    p = peers["127.0.0.2"]
    p.rcpt_codes["bad@mx.remote.test"] = 550
    p.start()
    mid = deliver_now(tern, ["good@mx.remote.test", "bad@mx.remote.test"])
    (m,) = p.wait_messages(1)
    assert m.rcpts == ["good@mx.remote.test"]
    tern.wait_completed(mid)
    log = tern.mainlog()
    assert re.search(re.escape(mid) + r" \*\* bad@mx\.remote\.test "
                     r"R=dnslookup T=remote_smtp H=mx1\.remote\.test "
                     r"\[127\.0\.0\.2\]: SMTP error from remote mail "
                     r"server after RCPT TO:<bad@mx\.remote\.test>: 550", log)
    assert re.search(re.escape(mid) + r" => good@mx\.remote\.test ", log)
    # a bounce for bad@ only was made (example.net does not resolve here)
    assert re.search(r" <= <> R=" + re.escape(mid), log)


def test_one_rcpt_4xx_deferred_without_pipelining(tern, dns, peers):
    remote_config(tern, dns, peers)
    p = Peer("127.0.0.2", peers["127.0.0.2"].port, pipelining=False)
    peers["127.0.0.2"] = p
    p.rcpt_codes["later@mx.remote.test"] = 451
    p.start()
    mid = deliver_now(tern, ["now@mx.remote.test", "later@mx.remote.test"])
    (m,) = p.wait_messages(1)
    assert m.rcpts == ["now@mx.remote.test"]
    tern.wait_for_log(re.escape(mid) + r" == later@mx\.remote\.test .*451")
    assert tern.queue_ids() == [mid]


def test_pipelining_size_8bitmime(tern, dns, peers):
    remote_config(tern, dns, peers)
    p = peers["127.0.0.2"].start()
    body = "caf\u00e9\n".encode()
    deliver_now(tern, ["a@mx.remote.test", "b@mx.remote.test"], body=body)
    (m,) = p.wait_messages(1)
    assert sorted(m.rcpts) == ["a@mx.remote.test", "b@mx.remote.test"]
    assert any(o.startswith("SIZE=") for o in m.mail_options), m.mail_options
    assert "BODY=8BITMIME" in m.mail_options, m.mail_options
    assert "caf\u00e9".encode() in m.data
    assert p.connections == 1


def test_8bitmime_only_for_8bit_content(tern, dns, peers):
    """BODY=8BITMIME goes with a message that has a byte above 127 in its
    body or its headers, and with no other (the core scans the spool file
    in place)."""
    remote_config(tern, dns, peers)
    p = peers["127.0.0.2"].start()
    deliver_now(tern, "a@mx.remote.test", body=b"plain ascii\n" * 5000)
    deliver_now(tern, "b@mx.remote.test", subject="gr\u00fc\u00dfe",
                body=b"ascii body\n")
    deliver_now(tern, "c@mx.remote.test",
                body=(b"x" * 76 + b"\n") * 3000 +
                "\u00e9t\u00e9\n".encode())  # past the first 64K read
    got = {m.rcpts[0]: m for m in p.wait_messages(3)}
    assert "BODY=8BITMIME" not in got["a@mx.remote.test"].mail_options
    assert "BODY=8BITMIME" in got["b@mx.remote.test"].mail_options
    assert "BODY=8BITMIME" in got["c@mx.remote.test"].mail_options
    assert "\u00e9t\u00e9".encode() in got["c@mx.remote.test"].data


def test_manualroute_smarthost(tern, dns, peers):
    port = peers["127.0.0.3"].port
    routers = (f"smarthost:\n  driver = manualroute\n"
               f"  transport = remote_smtp\n"
               f"  route_list = *.elsewhere.test  127.0.0.9::{port}:"
               f"mx2.remote.test ; nothing.test 127.0.0.4\n")
    remote_config(tern, dns, peers, routers=routers)
    peers["127.0.0.3"].start()
    mid = deliver_now(tern, "user@a.elsewhere.test")
    (m,) = peers["127.0.0.3"].wait_messages(1)
    assert m.rcpts == ["user@a.elsewhere.test"]
    tern.wait_completed(mid)
    assert re.search(re.escape(mid) + r" => user@a\.elsewhere\.test "
                     r"R=smarthost T=remote_smtp H=mx2\.remote\.test",
                     tern.mainlog())


def test_twenty_messages_fewer_connections(tern, dns, peers):
    remote_config(tern, dns, peers)
    p = peers["127.0.0.2"].start()
    ids = []
    for i in range(20):
        r = tern.run(["-odq", "-f", "sender@example.net",
                      f"user{i}@mx.remote.test"],
                     input=make_message(to=f"user{i}@mx.remote.test",
                                        subject=f"message {i}"))
        r.ok()
    assert len(tern.queue_ids()) == 20
    tern.run(["-qq"]).ok()
    p.wait_messages(20)
    tern.wait_queue_empty()
    assert len(p.messages) == 20
    assert p.connections < 20, p.connections
    assert p.connections <= 2, p.connections


def test_starttls_used_when_offered(tern, dns, peers):
    cert = make_cert(tern.dir)
    p = Peer("127.0.0.2", peers["127.0.0.2"].port, tls_cert=cert)
    peers["127.0.0.2"] = p
    remote_config(tern, dns, peers)
    p.start()
    mid = deliver_now(tern, "user@single.remote.test")
    (m,) = p.wait_messages(1)
    assert m.tls
    tern.wait_for_log(re.escape(mid) + r" => user@single\.remote\.test .* "
                      r"X=TLS1\.[23]:")


def test_tls_verify_hosts_checks_certificate(tern, dns, peers):
    cert = make_cert(tern.dir)
    p = Peer("127.0.0.2", peers["127.0.0.2"].port, tls_cert=cert)
    peers["127.0.0.2"] = p
    # the self-signed certificate is trusted only when named
    remote_config(tern, dns, peers, transport=(
        "  tls_verify_hosts = *\n  hosts_require_tls = *\n"
        f"  tls_verify_certificates = {cert[0]}"))
    p.start()
    deliver_now(tern, "user@single.remote.test")
    (m,) = p.wait_messages(1)
    assert m.tls
    remote_config(tern, dns, peers, transport=(
        "  tls_verify_hosts = *\n  hosts_require_tls = *\n"))
    mid = deliver_now(tern, "user2@single.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user2@single\.remote\.test .*"
                      r"certificate verif")
    assert len(p.messages) == 1


def test_hosts_require_tls_defers_without_starttls(tern, dns, peers):
    remote_config(tern, dns, peers, transport="  hosts_require_tls = *")
    p = peers["127.0.0.2"].start()
    mid = deliver_now(tern, "user@single.remote.test")
    tern.wait_for_log(re.escape(mid) + r" == user@single\.remote\.test .*"
                      r"TLS is required")
    assert p.messages == []
    assert tern.queue_ids() == [mid]


def test_sender_verify(tern, dns, peers):
    remote_config(tern, dns, peers, main="sender_verify = true")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        code, text = c.cmd("MAIL FROM:<someone@missing.remote.test>")
        assert code == 550 and "sender verify failed" in text, (code, text)
        c.expect("MAIL FROM:<someone@mx.remote.test>", 250)
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<>", 250)
        c.expect("QUIT", 221)
    tern.wait_for_log(r"rejected MAIL FROM:<someone@missing\.remote\.test>: "
                      r"sender verify failed", which="reject")

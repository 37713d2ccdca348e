"""The client's host name (docs/config.md, "Host names of clients"):
host_lookup and host_lookup_order, host-list items that need the name or
look a name up, and helo_verify_hosts, as Exim does them.  A real DNS
server (unbound) answers for a reverse zone of 127.0.0.0/24 on loopback;
the clients connect from chosen 127.0.0.x addresses (127.0.1.x: a
reverse zone the server refuses, a temporary failure)."""

import re
import smtplib

import pytest

from remote_peers import Peer, Unbound
from tern_helpers import (LOG_HEAD, RawSMTP, SCALE, free_port, make_message,
                          wait_for)

REVERSE = """
10.0.0.127.in-addr.arpa.  PTR good.remote.test.
good.remote.test.         A 127.0.0.10
11.0.0.127.in-addr.arpa.  PTR liar.remote.test.
liar.remote.test.         A 127.0.0.99
13.0.0.127.in-addr.arpa.  PTR a.remote.test.
13.0.0.127.in-addr.arpa.  PTR b.remote.test.
a.remote.test.            A 127.0.0.77
b.remote.test.            A 127.0.0.13
fwd.remote.test.          A 127.0.0.11
14.0.0.127.in-addr.arpa.  PTR MiXeD.Remote.Test.
mixed.remote.test.        A 127.0.0.14
15.0.0.127.in-addr.arpa.  PTR 127.0.0.15.
16.0.0.127.in-addr.arpa.  PTR under_score.remote.test.
under_score.remote.test.  A 127.0.0.16
"""


@pytest.fixture
def dns(tern):
    u = Unbound(tern.path("dns"), extra=REVERSE,
                zones=("0.0.127.in-addr.arpa.",
                       ("1.0.127.in-addr.arpa.", "refuse")))
    yield u
    u.stop()


def start(tern, dns, main="", edit=None):
    tern.config(main=f"dns_servers = 127.0.0.1\ndns_port = {dns.port}\n"
                "host_lookup_order = bydns\n" + main)
    if edit is not None:
        tern.conf.write_text(edit(tern.conf.read_text()))
    tern.start_daemon()


def send_from(tern, source, to="alice@test.example", helo="client.example"):
    """One message from source (a 127.0.0.x address); the EHLO reply."""
    with smtplib.SMTP("127.0.0.1", tern.port, timeout=30 * SCALE,
                      source_address=(source, 0)) as s:
        code, text = s.ehlo(helo)
        assert code == 250, text
        s.sendmail("sender@example.net", [to], make_message(to=to))
        return text.decode()


def received_from(raw):
    hdr = raw.split(b"\n\n", 1)[0].decode()
    return re.search(r"^Received: (from .*?)\n\tby ", hdr, re.M | re.S)[1]


def test_host_lookup_names_the_client(tern, dns):
    start(tern, dns, "host_lookup = *\n")
    hello = send_from(tern, "127.0.0.10")
    assert hello.startswith("test.example Hello good.remote.test "
                            "[127.0.0.10]"), hello
    (raw,) = tern.wait_mbox("alice")
    assert re.match(r"from good\.remote\.test \(\[127\.0\.0\.10\]:\d+ "
                    r"helo=client\.example\)$", received_from(raw)), raw
    assert re.search(LOG_HEAD + r"\S+ <= sender@example\.net "
                     r"H=good\.remote\.test \(client\.example\) "
                     r"\[127\.0\.0\.10\]", tern.mainlog(), re.M), \
        tern.mainlog()


def test_a_name_that_does_not_lead_back_is_not_taken(tern, dns):
    """127.0.0.11's PTR says liar.remote.test, whose A record is another
    address; 127.0.0.12 has no PTR; 127.0.0.13 has two names, of which
    only b.remote.test leads back."""
    start(tern, dns, "host_lookup = *\n")
    send_from(tern, "127.0.0.11")
    send_from(tern, "127.0.0.12", to="bob@test.example")
    send_from(tern, "127.0.0.13", to="carol@test.example")
    send_from(tern, "127.0.0.14", to="mallory@test.example")
    (raw,) = tern.wait_mbox("alice")
    assert "liar" not in raw.decode(), raw
    assert received_from(raw).startswith("from client.example "
                                          "([127.0.0.11]:"), raw
    (raw,) = tern.wait_mbox("bob")
    assert received_from(raw).startswith("from client.example "
                                         "([127.0.0.12]:"), raw
    (raw,) = tern.wait_mbox("carol")
    assert received_from(raw).startswith("from b.remote.test "
                                         "([127.0.0.13]:"), raw
    # names are taken in lower case
    (raw,) = tern.wait_mbox("mallory")
    assert received_from(raw).startswith("from mixed.remote.test "
                                         "([127.0.0.14]:"), raw
    log = tern.mainlog()
    assert re.search(r"H=\(client\.example\) \[127\.0\.0\.11\]", log), log
    assert "no host name found for IP address 127.0.0.12" in log, log
    assert "no host name found for IP address 127.0.0.11" not in log, log


def test_host_lookup_only_for_the_hosts_it_lists(tern, dns):
    start(tern, dns, "host_lookup = 127.0.0.13\n")
    send_from(tern, "127.0.0.10")
    send_from(tern, "127.0.0.13", to="bob@test.example")
    (raw,) = tern.wait_mbox("alice")
    assert "good.remote.test" not in raw.decode(), raw
    (raw,) = tern.wait_mbox("bob")
    assert received_from(raw).startswith("from b.remote.test "), raw


def test_sender_host_name_reaches_the_delivery(tern, dns):
    start(tern, dns, "host_lookup = *\n", edit=lambda text: text.replace(
        "  driver = appendfile\n",
        "  driver = appendfile\n"
        "  headers_add = X-Client: ${if def:sender_host_name"
        "{$sender_host_name}{unknown}}\n"))
    send_from(tern, "127.0.0.10")
    send_from(tern, "127.0.0.12", to="bob@test.example")
    (raw,) = tern.wait_mbox("alice")
    assert b"\nX-Client: good.remote.test\n" in raw, raw
    (raw,) = tern.wait_mbox("bob")
    assert b"\nX-Client: unknown\n" in raw, raw


def relay_rcpt(tern, source):
    with RawSMTP(tern.port, source=source) as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        code, text = c.cmd("RCPT TO:<someone@elsewhere.example>")
        c.cmd("QUIT")
        return code


def test_host_list_items_that_need_the_name(tern, dns):
    """No host_lookup: a wildcard or regex item looks the name up itself,
    which must lead back to the address as for host_lookup."""
    start(tern, dns, "relay_from_hosts = *.remote.test : "
          "\\N^b\\.remote\\.test$\\N\n")
    assert relay_rcpt(tern, "127.0.0.10") == 250   # good.remote.test
    assert relay_rcpt(tern, "127.0.0.13") == 250   # b.remote.test
    assert relay_rcpt(tern, "127.0.0.11") == 550   # liar: not its name
    assert relay_rcpt(tern, "127.0.0.12") == 550   # no name
    log = tern.mainlog()
    assert re.search(r"H=\[127\.0\.0\.11\] "
                     r"F=<sender@example\.net> rejected RCPT "
                     r"<someone@elsewhere\.example>", log), log


def test_regex_item_alone(tern, dns):
    start(tern, dns, "relay_from_hosts = \\N^b\\.remote\\.test$\\N\n")
    assert relay_rcpt(tern, "127.0.0.13") == 250
    assert relay_rcpt(tern, "127.0.0.10") == 550


def test_plain_name_item_is_looked_up(tern, dns):
    """A plain name matches the client when the client is one of its
    addresses (the system's lookup: /etc/hosts has localhost)."""
    start(tern, dns, "relay_from_hosts = localhost\n")
    assert relay_rcpt(tern, "127.0.0.1") == 250, tern.mainlog()
    assert relay_rcpt(tern, "127.0.0.10") == 550


def helo_from(tern, source, verb_arg):
    with RawSMTP(tern.port, source=source) as c:
        got = c.cmd(verb_arg)
        c.cmd("QUIT")
        return got


def test_helo_verify_hosts(tern, dns):
    start(tern, dns, "helo_verify_hosts = ! 127.0.0.1 : 127.0.0.0/8\n")
    # its name by PTR, its address literal, a name whose A record is it
    assert helo_from(tern, "127.0.0.10", "EHLO good.remote.test")[0] == 250
    assert helo_from(tern, "127.0.0.10", "EHLO GOOD.remote.test")[0] == 250
    assert helo_from(tern, "127.0.0.10", "HELO [127.0.0.10]")[0] == 250
    # the name found for the check is the one the 250 gives
    assert helo_from(tern, "127.0.0.10", "EHLO good.remote.test")[1] \
        .startswith("test.example Hello good.remote.test [127.0.0.10]")
    assert helo_from(tern, "127.0.0.11", "EHLO fwd.remote.test")[0] == 250
    # another host's name, another address, the liar's own PTR name
    code, text = helo_from(tern, "127.0.0.10", "EHLO b.remote.test")
    assert (code, text) == (550, "EHLO argument does not match calling "
                            "host"), text
    assert helo_from(tern, "127.0.0.10", "HELO [127.0.0.13]")[0] == 550
    assert helo_from(tern, "127.0.0.11", "EHLO liar.remote.test")[0] == 550
    # an address without brackets is no name; a name whose own lookup
    # fails is not verified (550, as in Exim)
    assert helo_from(tern, "127.0.0.10", "EHLO 127.0.0.10")[0] == 550
    assert helo_from(tern, "127.0.0.12", "EHLO mx.refused.example")[0] == 550
    # the client's reverse lookup cannot be done now: 451
    code, text = helo_from(tern, "127.0.1.5", "EHLO mx.refused.example")
    assert code == 451, text
    log = tern.mainlog()
    assert re.search(r"H=good\.remote\.test \[127\.0\.0\.10\] rejected "
                     r"\"EHLO b\.remote\.test\"", log), log
    assert re.search(r"H=\[127\.0\.1\.5\] temporarily rejected \"EHLO "
                     r"mx\.refused\.example\"", log), log
    assert "rejected \"EHLO b.remote.test\"" in tern.rejectlog()
    # a host outside the list is not asked
    assert helo_from(tern, "127.0.0.1", "EHLO b.remote.test")[0] == 250


def test_helo_verify_hosts_wants_a_helo_before_mail(tern, dns):
    start(tern, dns, "helo_verify_hosts = *\n")
    with RawSMTP(tern.port, source="127.0.0.10") as c:
        code, text = c.cmd("MAIL FROM:<sender@example.net>")
        assert (code, text) == (503, "5.5.1 HELO or EHLO required"), text
        c.expect("EHLO good.remote.test", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(make_message())
        c.expect(".", 250)
        c.cmd("QUIT")
    assert tern.wait_mbox("alice")
    # no host_lookup: the name is not known yet
    assert re.search(r"H=\[127\.0\.0\.10\] rejected MAIL: no HELO/EHLO "
                     r"given", tern.mainlog()), tern.mainlog()


def test_lookup_options_are_checked(tern):
    tern.config(main="host_lookup_order = bydns : byname\n")
    r = tern.run(["-bV"])
    assert r.returncode != 0
    assert 'host_lookup_order": "byname" is neither bydns nor byaddr' in \
        r.stderr, r.stderr
    tern.config(main="host_lookup = 10.0.0.0/33\n")
    r = tern.run(["-bV"])
    assert r.returncode != 0, r
    tern.config(main="host_lookup = *\nhost_lookup_order = byaddr\n"
                "helo_verify_hosts = 192.0.2.0/24\n")
    r = tern.run(["-bP", "host_lookup_order", "helo_verify_hosts"])
    assert r.returncode == 0, r
    assert "host_lookup_order = byaddr" in r.stdout, r.stdout
    assert "not yet implemented" not in r.stdout, r.stdout


def test_no_lookup_without_host_lookup(tern, dns):
    """Nothing asks the DNS about a client unless an option needs it:
    the DNS server answers nothing for these addresses when stopped."""
    dns.stop()
    start(tern, dns)
    send_from(tern, "127.0.0.10")
    (raw,) = tern.wait_mbox("alice")
    assert received_from(raw).startswith("from client.example "
                                         "([127.0.0.10]:"), raw
    wait_for(lambda: "Completed" in tern.mainlog(), 10 * SCALE,
             "delivery")
    assert "host name" not in tern.mainlog()


def test_ptr_names_that_are_no_names(tern, dns):
    """A PTR record giving an address, or a name with characters a host
    name cannot have, names nothing."""
    start(tern, dns, "host_lookup = *\n")
    send_from(tern, "127.0.0.15")
    send_from(tern, "127.0.0.16", to="bob@test.example")
    (raw,) = tern.wait_mbox("alice")
    assert received_from(raw).startswith("from client.example "
                                         "([127.0.0.15]:"), raw
    (raw,) = tern.wait_mbox("bob")
    assert b"under_score" not in raw, raw
    log = tern.mainlog()
    assert "no host name found for IP address 127.0.0.15" in log, log


def test_unknown_names_fail_the_list_unless_told(tern, dns):
    """As Exim: a client whose name cannot be found fails the whole list
    at an item that needs the name, even if a later item would match;
    +ignore_unknown skips such items, +include_unknown matches."""
    start(tern, dns, "hostlist plain = *.remote.test : 127.0.0.12\n"
          "hostlist ignore = +ignore_unknown : *.remote.test : 127.0.0.12\n"
          "hostlist include = +include_unknown : *.nowhere.test\n"
          "relay_from_hosts = +plain\n")
    assert relay_rcpt(tern, "127.0.0.12") == 550
    assert relay_rcpt(tern, "127.0.0.10") == 250
    # a lookup that cannot be done now defers the list: 451
    assert relay_rcpt(tern, "127.0.1.5") == 451
    tern.stop()
    tern.config(main=f"dns_servers = 127.0.0.1\ndns_port = {dns.port}\n"
                "host_lookup_order = bydns\n"
                "relay_from_hosts = +ignore_unknown : *.remote.test : "
                "127.0.0.12\n")
    tern.start_daemon()
    assert relay_rcpt(tern, "127.0.0.12") == 250
    tern.stop()
    tern.config(main=f"dns_servers = 127.0.0.1\ndns_port = {dns.port}\n"
                "host_lookup_order = bydns\n"
                "relay_from_hosts = +include_unknown : *.nowhere.test\n")
    tern.start_daemon()
    assert relay_rcpt(tern, "127.0.0.12") == 250   # no name: included
    assert relay_rcpt(tern, "127.0.0.10") == 550   # a name, not matching


def test_a_name_found_by_a_list_reaches_the_message(tern, dns):
    """No host_lookup: the relay check looks the name up, and the
    message's Received: header and <= line have it."""
    start(tern, dns, "relay_from_hosts = *.remote.test\n")
    send_from(tern, "127.0.0.10", to="someone@elsewhere.example")
    wait_for(lambda: " <= " in tern.mainlog(), 10 * SCALE, "arrival")
    assert re.search(r" <= sender@example\.net H=good\.remote\.test "
                     r"\(client\.example\) \[127\.0\.0\.10\]",
                     tern.mainlog()), tern.mainlog()


def test_server_host_lists_ignore_the_client_name(tern, dns):
    """The smtp transport's host lists are about the server: a message
    from good.remote.test to a server matched by no item is delivered in
    clear even with hosts_require_tls = *.remote.test."""
    port = free_port()
    peer = Peer("127.0.0.2", port)
    peer.start()
    try:
        start(tern, dns, "host_lookup = *\n"
              "relay_from_hosts = 127.0.0.0/8\n",
              edit=lambda text: text.replace(
                  "begin transports\n\n",
                  "begin transports\n\nremote_smtp:\n  driver = smtp\n"
                  f"  port = {port}\n"
                  "  hosts_require_tls = *.remote.test\n\n")
              + "\nbegin routers\n\nsmarthost:\n  driver = manualroute\n"
                "  transport = remote_smtp\n"
                "  route_list = elsewhere.example 127.0.0.2\n")
        send_from(tern, "127.0.0.10", to="someone@elsewhere.example")
        (got,) = peer.wait_messages(1)
        assert got.rcpts == ["someone@elsewhere.example"]
        assert not got.tls
        assert re.search(r" <= sender@example\.net H=good\.remote\.test ",
                         tern.mainlog()), tern.mainlog()
    finally:
        peer.stop()

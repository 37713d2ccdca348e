"""The virtual-ISP example (examples/isp) against real servers: a MariaDB
and a slapd that these tests start on 127.0.0.1 (issue 7).  Every test
runs once with the MySQL store and once with the LDAP store."""

import re
import smtplib

import pytest

from dbservers import MariaDB, Slapd
from tern_helpers import REPO, make_message, read_maildir, wait_for

EXAMPLE = REPO / "examples" / "isp"


@pytest.fixture(scope="module")
def mysql_server():
    db = MariaDB()
    db.sql((EXAMPLE / "schema.sql").read_text(), db="mail")
    yield db
    db.close()


@pytest.fixture(scope="module")
def ldap_server():
    s = Slapd(ldif=EXAMPLE / "isp.ldif")
    yield s
    s.close()


class Store:
    """The backend of one test: its server and how to stop and start it."""

    def __init__(self, kind, server):
        self.kind, self.server = kind, server

    def stop(self):
        self.server.stop()

    def start(self):
        self.server.start()

    def seen(self):
        """What the server was asked (MariaDB's general log, slapd's)."""
        return (self.server.queries() if self.kind == "mysql"
                else self.server.log())


@pytest.fixture(params=["mysql", "ldap"])
def isp(request, tern):
    """tern configured from examples/isp/tern.conf for one store."""
    kind = request.param
    server = request.getfixturevalue(f"{kind}_server")
    macros = {
        "USE_MYSQL" if kind == "mysql" else "USE_LDAP": "yes",
        "PRIMARY_HOSTNAME": "mail.isp.test",
        "SPOOL_DIR": "@DIR@/spool",
        "LOG_PATH": "@DIR@/log/%slog",
        "SMTP_PORTS": "@PORT@",
        "TERN_USER": "@USER@",
        "VMAIL_DIR": "@DIR@/vmail",
        "VMAIL_USER": "@USER@",
    }
    if kind == "mysql":
        macros["MYSQL_SERVERS"] = server.servers()
    else:
        macros["LDAP_SERVERS"] = f"127.0.0.1::{server.port}"
    head = "".join(f"{k} = {v}\n" for k, v in macros.items())
    text = (EXAMPLE / "tern.conf").read_text()
    # loopback is the outside world here: it may not relay
    text = text.replace("relay_from_hosts = 127.0.0.1 : ::1",
                        "relay_from_hosts = 192.0.2.1\n"
                        "local_interfaces = 127.0.0.1")
    tern.config(head + text)
    (tern.dir / "vmail").mkdir()
    tern.own(tern.dir / "vmail")
    tern.start_daemon()
    return Store(kind, server)


def maildir(tern, domain, user):
    return read_maildir(tern.path("vmail", domain, user, "Maildir"))


def wait_new(tern, domain, user, n=1):
    """Wait until n messages are in the user's Maildir/new."""
    new = tern.path("vmail", domain, user, "Maildir", "new")
    wait_for(lambda: new.is_dir() and len(list(new.iterdir())) >= n, 30,
             f"{n} message(s) in {new}")


def rcpt(tern, address):
    with tern.smtp() as s:
        s.mail("sender@example.com")
        return s.rcpt(address)


def test_domain_only_in_the_store_is_delivered(isp, tern):
    tern.send("alice@example.org", subject="hello alice")
    wait_new(tern, "example.org", "alice")
    assert b"Subject: hello alice" in maildir(tern, "example.org", "alice")[0]
    assert tern.wait_for_log(r"=> alice@example.org .*T=virtual_delivery")


def test_unknown_user_of_a_virtual_domain_is_refused_at_rcpt(isp, tern):
    code, text = rcpt(tern, "nobody@example.org")
    assert code == 550, text
    # a domain the store does not know is not ours, and loopback may not
    # relay
    code, text = rcpt(tern, "alice@unknown.test")
    assert code == 550, text
    assert rcpt(tern, "alice@example.org")[0] == 250


def test_alias_and_catch_all(isp, tern):
    tern.send("info@example.org", subject="via alias")
    tern.send("anything@example.net", subject="via catch-all")
    wait_new(tern, "example.org", "alice")
    wait_new(tern, "example.net", "carol")
    assert b"Subject: via alias" in maildir(tern, "example.org", "alice")[0]
    assert b"Subject: via catch-all" in \
        maildir(tern, "example.net", "carol")[0]
    assert not tern.path("vmail", "example.org", "info").exists()
    assert not tern.path("vmail", "example.net", "anything").exists()


def test_quota_from_the_store(isp, tern):
    """bob's quota is 2K in the store; a 3K message does not fit."""
    tern.send("bob@example.org", subject="small")
    wait_new(tern, "example.org", "bob")
    tern.send("bob@example.org", subject="big", body="x" * 3000 + "\n")
    tern.wait_for_log(r"== bob@example.org .*mailbox is full")
    assert len(maildir(tern, "example.org", "bob")) == 1


def test_auth_with_the_store_password(isp, tern):
    with tern.smtp() as s:
        s.ehlo()
        assert s.has_extn("auth")
        s.login("alice@example.org", "alice-secret")
    with tern.smtp() as s:
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.org", "wrong")
        assert e.value.smtp_code == 535


def test_store_down_means_451_and_deferral_then_delivery(isp, tern):
    msg = make_message(to="alice@example.org", subject="queued")
    r = tern.run(["-odq", "-f", "sender@example.com", "alice@example.org"],
                 input=msg)
    assert r.returncode == 0, r
    isp.stop()
    try:
        code, text = rcpt(tern, "alice@example.org")
        assert code == 451, text
        # the store's error (its address, the lookup's) is for the log
        assert b"127.0.0.1" not in text and b"lookup" not in text, text
        assert "temporarily rejected RCPT <alice@example.org>: " \
            in tern.rejectlog()
        assert re.search(r"local_domains: checking example\.org: .*\S",
                         tern.mainlog())
        r = tern.run(["-qf"])
        tern.wait_for_log(r"== alice@example.org .*defer")
        assert "**" not in tern.mainlog()
        assert len(tern.queue_ids()) == 1
    finally:
        isp.start()
    assert rcpt(tern, "alice@example.org")[0] == 250
    tern.run(["-qf"])
    tern.wait_queue_empty()
    assert b"Subject: queued" in maildir(tern, "example.org", "alice")[0]


def test_hostile_local_part_reaches_the_store_quoted(isp, tern):
    lp = "\"a'b\\\\c(d)*\""
    code, text = rcpt(tern, f"{lp}@example.org")
    assert code == 550, text
    seen = isp.seen()
    if isp.kind == "mysql":
        # quote_mysql: a backslash before ' and before each backslash
        assert "local_part = '\\\"a\\'b\\\\\\\\c(d)*\\\"'" in seen, \
            seen[-2000:]
    else:
        # quote_ldap: RFC 4515 escapes (\5c \28 \29 \2a) in the filter
        assert "(uid=\"a'b\\5c\\5cc\\28d\\29\\2a\")" in seen.lower(), \
            seen[-3000:]
    # the server is fine and so is everything else
    assert rcpt(tern, "alice@example.org")[0] == 250

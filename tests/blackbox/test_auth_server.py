"""SMTP AUTH: the plaintext (PLAIN, LOGIN) and cram_md5 authenticators
against an lsearch file, where AUTH is offered, relaying after AUTH,
and what failures cost."""

import base64
import hashlib
import hmac
import re
import smtplib
import time

import pytest

from tern_helpers import (SCALE, STANDARD_CONFIG, make_cert, make_message,
                          non_loopback_address, split_message,
                          tls_client_context)

AUTHENTICATORS = """
begin authenticators

PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if eq{$auth3}{${lookup{$auth2}lsearch{@DIR@/passwd}{$value}fail}}{yes}{no}}
  server_set_id = $auth2

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = User Name : Password
  server_condition = ${if eq{$auth2}{${lookup{$auth1}lsearch{@DIR@/passwd}{$value}fail}}{yes}{no}}
  server_set_id = $auth1

cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${lookup{$auth1}lsearch{@DIR@/passwd}{$value}fail}
  server_set_id = $auth1
"""

PASSWD = "alice: wonderland\nbob: b0b-secret\n"


def auth_config(tern, main="smtp_auth_failure_delay = 0s\n"):
    tern.write("passwd", PASSWD)
    tern.config(STANDARD_CONFIG + AUTHENTICATORS, main=main)


def keywords(s):
    s.ehlo("client.example")
    return s.esmtp_features


def login(s, mech, user, password, initial=True):
    s.user, s.password = user, password
    fn = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login,
          "CRAM-MD5": s.auth_cram_md5}[mech]
    return s.auth(mech, fn, initial_response_ok=initial)


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_right_and_wrong_credentials(tern, mech):
    auth_config(tern)
    tern.start_daemon()
    with tern.smtp() as s:
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN",
                                                    "CRAM-MD5"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            login(s, mech, "alice", "wrong")
        assert e.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            login(s, mech, "nosuchuser", "wonderland")
        assert e.value.smtp_code == 535
        code, _ = login(s, mech, "alice", "wonderland")
        assert code == 235
        rcpt = "carol@test.example"
        s.sendmail("alice@example.net", [rcpt], make_message(to=rcpt))
    tern.wait_queue_empty()
    log = tern.mainlog()
    line = [l for l in log.splitlines() if " <= " in l][0]
    assert " P=esmtpa " in line and " A=" in line and ":alice " in line, line
    assert re.search(r"authenticator failed for H=\[127\.0\.0\.1\]: 535 "
                     r"Incorrect authentication data \(set_id=alice\)", log)
    (raw,) = tern.mbox("carol")
    assert "(authenticated as alice)" in \
        split_message(raw)[0].get_all("Received")[0]


def test_login_without_initial_response(tern):
    auth_config(tern)
    tern.start_daemon()
    with tern.smtp() as s:
        code, _ = login(s, "LOGIN", "bob", "b0b-secret", initial=False)
        assert code == 235


def test_auth_raw_exchanges(tern):
    auth_config(tern)
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        # cancelled
        code, text = c.cmd("AUTH LOGIN")
        assert code == 334 and base64.b64decode(text) == b"User Name"
        assert c.cmd("*")[0] == 501
        # not base64
        assert c.cmd("AUTH PLAIN !!!notbase64")[0] == 501
        assert c.cmd("AUTH NOSUCH")[0] == 504
        # CRAM-MD5 by hand
        code, text = c.cmd("AUTH CRAM-MD5")
        assert code == 334
        challenge = base64.b64decode(text)
        assert re.fullmatch(rb"<\d+\.\d+@test\.example>", challenge)
        digest = hmac.new(b"b0b-secret", challenge, hashlib.md5).hexdigest()
        code, _ = c.cmd(base64.b64encode(b"bob " + digest.encode()).decode())
        assert code == 235
        assert c.cmd("AUTH PLAIN")[0] == 503   # already authenticated
        c.expect("QUIT", 221)


def test_auth_not_in_a_transaction_or_unadvertised(tern):
    auth_config(tern)
    tern.start_daemon()
    with tern.raw() as c:
        assert c.cmd("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")[0] == 503
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.net>", 250)
        assert c.cmd("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")[0] == 503


def test_authenticated_client_may_relay(tern):
    auth_config(tern)
    tern.start_daemon()
    with tern.smtp() as s:
        s.mail("alice@example.net")
        code, text = s.rcpt("someone@remote.example")
        assert code == 550 and b"relay not permitted" in text
        s.rset()
        assert login(s, "PLAIN", "alice", "wonderland")[0] == 235
        s.mail("alice@example.net")
        code, text = s.rcpt("someone@remote.example")
        assert code == 250, text


def test_too_many_failures_drop_the_connection(tern):
    auth_config(tern, "smtp_auth_failure_delay = 0s\n"
                      "smtp_max_auth_failures = 2\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        bad = base64.b64encode(b"\0alice\0nope").decode()
        assert c.cmd(f"AUTH PLAIN {bad}")[0] == 535
        c.send(f"AUTH PLAIN {bad}\r\n")
        assert c.reply()[0] == 535
        assert c.reply()[0] == 421
    tern.wait_for_log(r"dropped: too many authentication failures")


def test_failure_delay(tern):
    auth_config(tern, "smtp_auth_failure_delay = 1s\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        bad = base64.b64encode(b"\0alice\0nope").decode()
        start = time.monotonic()
        assert c.cmd(f"AUTH PLAIN {bad}")[0] == 535
        assert time.monotonic() - start >= 0.9


def test_auth_offered_only_over_tls_or_loopback(tern):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    cert, key = make_cert(tern.dir, "test.example")
    tern.write("passwd", PASSWD)
    tern.config(STANDARD_CONFIG.replace(
        "local_interfaces = 127.0.0.1",
        f"local_interfaces = 127.0.0.1 : {addr}") + AUTHENTICATORS,
        main=f"tls_certificate = {cert}\ntls_privatekey = {key}\n")
    tern.start_daemon()
    with smtplib.SMTP(addr, tern.port, timeout=30 * SCALE) as s:
        s.ehlo("client.example")
        assert not s.has_extn("auth"), s.esmtp_features
        assert s.docmd("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")[0] == 503
        s.starttls(context=tls_client_context())
        s.ehlo("client.example")
        assert s.has_extn("auth"), s.esmtp_features
        assert login(s, "PLAIN", "alice", "wonderland")[0] == 235
    with tern.smtp() as s:     # loopback: offered in clear text
        assert s.has_extn("auth")


def test_auth_advertise_hosts_expanded(tern):
    cert, key = make_cert(tern.dir, "test.example")
    auth_config(tern, f"tls_certificate = {cert}\ntls_privatekey = {key}\n"
                      "auth_advertise_hosts = ${if def:tls_in_cipher{*}{}}\n")
    tern.start_daemon()
    with tern.smtp() as s:
        assert not s.has_extn("auth")
        s.starttls(context=tls_client_context())
        s.ehlo("client.example")
        assert s.has_extn("auth")
        assert login(s, "CRAM-MD5", "bob", "b0b-secret")[0] == 235
        rcpt = "mallory@test.example"
        s.sendmail("bob@example.net", [rcpt], make_message(to=rcpt))
    tern.wait_queue_empty()
    line = [l for l in tern.mainlog().splitlines() if " <= " in l][0]
    assert " P=esmtpsa " in line and " A=cram:bob" in line, line

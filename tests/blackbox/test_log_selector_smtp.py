"""log_selector (docs/log.md) on the reception side: the optional fields
of the <= line, and the lines about SMTP connections, their errors and
their rejections, driven by real SMTP clients."""

import re
import smtplib
import time

import pytest

from tern_helpers import (ID_RE, SCALE, STANDARD_CONFIG, free_port, make_cert,
                          make_message, tls_client_context)


def arrival(tern, n=0):
    """The text of the n-th <= line, from the marker on."""
    lines = [ln for ln in tern.mainlog().splitlines() if " <= " in ln]
    assert len(lines) > n, tern.mainlog()
    return lines[n][lines[n].index(" <= ") + 1:]


def send_raw(tern, mail="MAIL FROM:<sender@example.net>",
             rcpts=("alice@test.example",), data=None, helo="EHLO"):
    """One transaction, each command waiting for its reply."""
    with tern.raw() as c:
        c.expect(f"{helo} client.example", 250)
        c.expect(mail, 250)
        for r in rcpts:
            c.expect(f"RCPT TO:<{r}>", 250)
        c.expect("DATA", 354)
        c.send(data if data is not None else
               b"Subject: hello\r\nMessage-ID: <m1@client.example>\r\n"
               b"\r\nbody\r\n")
        c.expect(".", 250)
        c.expect("QUIT", 221)


# ---------------------------------------------------------------- <= lines

def test_default_arrival_line(tern):
    """Defaults: the client's port, id=, no I=, M8S=, RT=, T=, from, for."""
    tern.config()
    tern.start_daemon()
    send_raw(tern)
    line = arrival(tern)
    assert re.fullmatch(r"<= sender@example\.net H=\(client\.example\) "
                        r"\[127\.0\.0\.1\]:\d+ P=esmtp S=\d+ "
                        r"id=m1@client\.example", line), line


def test_without_incoming_port_and_msg_id(tern):
    tern.config(main="log_selector = -incoming_port -msg_id\n")
    tern.start_daemon()
    send_raw(tern)
    line = arrival(tern)
    assert re.fullmatch(r"<= sender@example\.net H=\(client\.example\) "
                        r"\[127\.0\.0\.1\] P=esmtp S=\d+", line), line


def test_incoming_interface_and_connection_id(tern):
    tern.config(main="log_selector = +incoming_interface +connection_id\n")
    tern.start_daemon()
    send_raw(tern)
    line = arrival(tern)
    assert re.search(r" H=\(client\.example\) \[127\.0\.0\.1\]:\d+ "
                     r"I=\[127\.0\.0\.1\]:" + str(tern.port) +
                     r" Ci=\d+ P=esmtp ", line), line


def test_8bitmime(tern):
    tern.config(main="log_selector = +8bitmime\n")
    tern.start_daemon()
    send_raw(tern, mail="MAIL FROM:<sender@example.net> BODY=8BITMIME")
    send_raw(tern, mail="MAIL FROM:<sender@example.net> BODY=7BIT")
    send_raw(tern)
    got = [re.search(r" S=\d+ M8S=(\d) ", arrival(tern, i)) for i in range(3)]
    assert [m.group(1) if m else None for m in got] == ["8", "7", "0"], \
        tern.mainlog()


def test_8bitmime_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    send_raw(tern, mail="MAIL FROM:<sender@example.net> BODY=8BITMIME")
    assert "M8S=" not in arrival(tern)


def test_receive_time(tern):
    tern.config(main="log_selector = +receive_time\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: slow\r\n\r\n")
        time.sleep(1.2)
        c.send(b"body\r\n")
        c.expect(".", 250)
    m = re.search(r" S=\d+ RT=(\d+)s$", arrival(tern))
    assert m and int(m.group(1)) >= 1, arrival(tern)


def test_receive_time_with_millisec(tern):
    tern.config(main="log_selector = +receive_time +millisec\n")
    tern.start_daemon()
    send_raw(tern)
    assert re.search(r" RT=\d+\.\d{3}s ", arrival(tern)), arrival(tern)


def test_subject_quoted_and_escaped(tern):
    tern.config(main="log_selector = +subject\n")
    tern.start_daemon()
    long = "x" * 150
    send_raw(tern, data=b'Subject:   say "hi" \\ there \r\n\r\nbody\r\n')
    send_raw(tern, data=b"Subject: =?UTF-8?Q?caf=C3=A9?= folded\r\n"
                        b"\tsecond line\r\n\r\nbody\r\n")
    send_raw(tern, data=f"Subject: {long}\r\n\r\nbody\r\n".encode())
    send_raw(tern, data=b"X-No-Subject: 1\r\n\r\nbody\r\n")
    # quotes and backslashes escaped, leading and trailing blanks gone
    assert arrival(tern, 0).endswith(r' T="say \"hi\" \\ there"'), \
        arrival(tern, 0)
    # no RFC 2047 decoding; the fold's newline shown as an escape
    assert arrival(tern, 1).endswith(
        r' T="=?UTF-8?Q?caf=C3=A9?= folded\n\x09second line"'), \
        arrival(tern, 1)
    assert arrival(tern, 2).endswith(' T="' + "x" * 100 + '"'), \
        arrival(tern, 2)
    assert " T=" not in arrival(tern, 3)


def test_subject_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    send_raw(tern)
    assert " T=" not in arrival(tern)


def test_received_sender_and_recipients_at_the_end(tern):
    tern.config(main="log_selector = +received_sender "
                     "+received_recipients +subject\n")
    tern.start_daemon()
    send_raw(tern, rcpts=("alice@test.example", "bob@test.example"))
    line = arrival(tern)
    assert line.endswith(' T="hello" from <sender@example.net> '
                         'for alice@test.example bob@test.example'), line


def test_received_recipients_only(tern):
    tern.config(main="log_selector = +received_recipients\n")
    tern.start_daemon()
    send_raw(tern)
    line = arrival(tern)
    assert line.endswith(" id=m1@client.example for alice@test.example"), \
        line
    assert " from <" not in line


def test_pipelining_used_and_not(tern):
    tern.config(main="log_selector = +pipelining\n"
                     "pipelining_advertise_hosts = *\n")
    tern.start_daemon()
    send_raw(tern)      # offered, one command at a time
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.send("MAIL FROM:<sender@example.net>\r\n"
               "RCPT TO:<alice@test.example>\r\nDATA\r\n")
        assert [c.reply()[0] for _ in range(3)] == [250, 250, 354]
        c.send(b"Subject: p\r\n\r\nbody\r\n.\r\n")
        assert c.reply()[0] == 250
        c.expect("QUIT", 221)
    send_raw(tern, helo="HELO")   # not offered after HELO
    assert " P=esmtp L- " in arrival(tern, 0), arrival(tern, 0)
    assert " P=esmtp L " in arrival(tern, 1), arrival(tern, 1)
    assert re.search(r" P=smtp S=", arrival(tern, 2)), arrival(tern, 2)


def test_pipelining_off_by_default(tern):
    tern.config(main="pipelining_advertise_hosts = *\n")
    tern.start_daemon()
    send_raw(tern)
    assert " L" not in arrival(tern).split(" S=")[0]


def test_local_message_id_created(tern):
    """A Message-Id Tern adds is not logged unless msg_id_created; then
    as id*=, as Exim does."""
    tern.config()
    r = tern.run(["-odq", "-i", "alice@test.example"],
                 input=b"Subject: a\n\nx\n", prog="sendmail")
    assert r.returncode == 0, r
    assert " id" not in arrival(tern).split(" S=")[1], arrival(tern)
    tern.config(main="log_selector = +msg_id_created\n")
    r = tern.run(["-odq", "-i", "alice@test.example"],
                 input=b"Subject: a\n\nx\n", prog="sendmail")
    assert re.search(r" S=\d+ id\*=" + ID_RE + r"@test\.example$",
                     arrival(tern, 1)), arrival(tern, 1)
    # one the user agent wrote is id= as always
    r = tern.run(["-odq", "-i", "alice@test.example"],
                 input=b"Message-ID: <ua@x.example>\n\nx\n", prog="sendmail")
    assert arrival(tern, 2).endswith(" id=ua@x.example"), arrival(tern, 2)


def test_bounce_arrival_fields(tern):
    tern.config(main="log_selector = +msg_id_created +subject "
                     "+received_recipients +received_sender\n")
    r = tern.run(["-odi", "-i", "-f", "sender@example.net",
                  "nosuchuser@test.example"],
                 input=b"Subject: a\n\nx\n", prog="sendmail")
    assert r.returncode == 0, r
    line = tern.wait_for_log(r"<= <> R=" + ID_RE + r" .*$").group(0)
    assert re.search(r" id\*=" + ID_RE + r"@test\.example T=\"[^\"]+\" "
                     r"from <> for sender@example\.net$", line), line


# ---------------------------------------------------------------- TLS

def tls_setup(tern, main=""):
    cert, key = make_cert(tern.dir, "test.example")
    ccert, ckey = make_cert(tern.dir, "client.example")
    tern.config(main=f"tls_certificate = {cert}\ntls_privatekey = {key}\n"
                     "tls_verify_hosts = 127.0.0.1\n"
                     f"tls_verify_certificates = {ccert}\n" + main)
    ctx = tls_client_context()
    ctx.load_cert_chain(str(ccert), str(ckey))
    return ctx


def send_tls(tern, ctx, sni="test.example"):
    with tern.smtp() as s:
        s._host = sni   # smtplib sends it as server_hostname (SNI)
        s.starttls(context=ctx)
        s.ehlo("client.example")
        s.sendmail("sender@example.net", ["alice@test.example"],
                   make_message())


def test_tls_defaults_cipher_and_verified_no_dn_no_sni(tern):
    ctx = tls_setup(tern)
    tern.start_daemon()
    send_tls(tern, ctx)
    line = arrival(tern)
    assert re.search(r" P=esmtps X=TLS1\.[23]:\S+:\d+ CV=yes S=", line), line
    assert " DN=" not in line and " SNI=" not in line, line


def test_tls_peerdn_and_sni_on_cipher_and_cv_off(tern):
    ctx = tls_setup(tern, "log_selector = +tls_peerdn +tls_sni -tls_cipher "
                          "-tls_certificate_verified\n")
    tern.start_daemon()
    send_tls(tern, ctx, sni="mail.test.example")
    line = arrival(tern)
    assert re.search(r' P=esmtps DN="CN=client\.example" '
                     r'SNI=mail\.test\.example S=', line), line


def test_no_cv_without_client_certificate(tern):
    cert, key = make_cert(tern.dir, "test.example")
    tern.config(main=f"tls_certificate = {cert}\ntls_privatekey = {key}\n")
    tern.start_daemon()
    send_tls(tern, tls_client_context())
    line = arrival(tern)
    assert " X=" in line and " CV=" not in line, line


@pytest.mark.parametrize("sel,want", [("", "esmtps"),
                                      ("log_selector = +tls_on_connect\n",
                                       "essmtp")])
def test_tls_on_connect_protocol(tern, sel, want):
    port = free_port()
    cert, key = make_cert(tern.dir, "test.example")
    tern.config(main=f"tls_certificate = {cert}\ntls_privatekey = {key}\n"
                     f"tls_on_connect_ports = {port}\n" + sel)
    tern.start_daemon()
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30 * SCALE,
                          context=tls_client_context()) as s:
        s.sendmail("sender@example.net", ["alice@test.example"],
                   make_message())
    assert f" P={want} X=" in arrival(tern), arrival(tern)


def test_rejection_names_interface_and_connection(tern):
    tern.config(main="log_selector = +incoming_interface +connection_id\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        assert c.cmd("RCPT TO:<x@elsewhere.example>")[0] == 550
        c.expect("QUIT", 221)
    tern.wait_for_log(r"H=\[127\.0\.0\.1\] I=\[127\.0\.0\.1\]:" +
                      str(tern.port) + r" Ci=\d+ F=<sender@example\.net> "
                      r"rejected RCPT <x@elsewhere\.example>: relay not "
                      r"permitted$")


# ---------------------------------------------------------------- connections

LINE_HEAD = r"^\S+ \d\d:\d\d:\d\d "


def test_smtp_connection_start_and_quit(tern):
    tern.config(main="log_selector = +smtp_connection\n")
    tern.start_daemon()
    with tern.raw() as c:
        port = c.sock.getsockname()[1]
        c.expect("EHLO client.example", 250)
        c.expect("QUIT", 221)
    tern.wait_for_log(LINE_HEAD + r"SMTP connection from \[127\.0\.0\.1\]:" +
                      str(port) + r" \(TCP/IP connection count = 1\)$")
    tern.wait_for_log(LINE_HEAD + r"SMTP connection from \(client\.example\) "
                      r"\[127\.0\.0\.1\]:" + str(port) +
                      r" D=\d+s closed by QUIT$")


def test_smtp_connection_lost_and_interface(tern):
    tern.config(main="log_selector = +smtp_connection +incoming_interface "
                     "-incoming_port\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("HELO client.example", 250)
    tern.wait_for_log(LINE_HEAD + r"SMTP connection from \(client\.example\) "
                      r"\[127\.0\.0\.1\] I=\[127\.0\.0\.1\]:" + str(tern.port) +
                      r" lost D=\d+s$")


def test_smtp_connection_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    send_raw(tern)
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
    time.sleep(0.5)
    assert "SMTP connection from" not in tern.mainlog(), tern.mainlog()


def test_smtp_no_mail(tern):
    tern.config(main="log_selector = +smtp_no_mail\n")
    tern.start_daemon()
    with tern.raw() as c:
        port = c.sock.getsockname()[1]
        c.expect("EHLO client.example", 250)
        c.expect("NOOP", 250)
        c.expect("QUIT", 221)
    with tern.raw() as c:
        for _ in range(25):
            c.expect("NOOP", 250)
    send_raw(tern)     # had MAIL: no line
    tern.wait_for_log(LINE_HEAD + r"no MAIL in SMTP connection from "
                      r"\(client\.example\) \[127\.0\.0\.1\]:" + str(port) +
                      r" D=\d+s C=EHLO,NOOP,QUIT$")
    tern.wait_for_log(r"no MAIL in SMTP connection from \[127\.0\.0\.1\]:\d+ "
                      r"D=\d+s C=\.\.\.NOOP(,NOOP){19}$")
    time.sleep(0.5)
    assert tern.mainlog().count("no MAIL") == 2, tern.mainlog()


def test_smtp_no_mail_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("QUIT", 221)
    time.sleep(0.5)
    assert "no MAIL" not in tern.mainlog()


def test_smtp_incomplete_transaction(tern):
    tern.config(main="log_selector = +smtp_incomplete_transaction\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("RCPT TO:<bob@test.example>", 250)
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<other@example.net>", 250)
        c.expect("QUIT", 221)
    tern.wait_for_log(r"H=\(client\.example\) \[127\.0\.0\.1\]:\d+ incomplete "
                      r"transaction \(RSET\) from <sender@example\.net> for "
                      r"alice@test\.example bob@test\.example$")
    tern.wait_for_log(r"H=\(client\.example\) \[127\.0\.0\.1\]:\d+ incomplete "
                      r"transaction \(QUIT\) from <other@example\.net>$")


def test_smtp_incomplete_transaction_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RSET", 250)
        c.expect("QUIT", 221)
    time.sleep(0.5)
    assert "incomplete transaction" not in tern.mainlog()


def test_syntax_and_protocol_errors(tern):
    tern.config(main="log_selector = +smtp_syntax_error "
                     "+smtp_protocol_error\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.cmd("FROBNICATE now")[0] == 500
        assert c.cmd("MAIL TO:<x@y>")[0] == 501
        assert c.cmd("RCPT TO:<alice@test.example>")[0] == 503
        c.expect("QUIT", 221)
    h = r" H=\(client\.example\) \[127\.0\.0\.1\]:\d+ "
    tern.wait_for_log(r'SMTP syntax error in "FROBNICATE now"' + h +
                      r"unrecognized command$")
    tern.wait_for_log(r'SMTP syntax error in "MAIL TO:<x@y>"' + h +
                      r"MAIL must have an address operand$")
    tern.wait_for_log(r'SMTP protocol error in "RCPT TO:<alice@test\.example>"'
                      + h + r"MAIL first$")


def test_syntax_and_protocol_errors_off_by_default(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.cmd("FROBNICATE now")[0] == 500
        assert c.cmd("RCPT TO:<alice@test.example>")[0] == 503
        c.expect("QUIT", 221)
    time.sleep(0.5)
    assert " error in " not in tern.mainlog(), tern.mainlog()


def lose_mid_transaction(tern):
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n")


def test_lost_incoming_connection(tern):
    tern.config()
    tern.start_daemon()
    lose_mid_transaction(tern)
    tern.wait_for_log(LINE_HEAD + r"unexpected disconnection while reading "
                      r"SMTP command from \(client\.example\) "
                      r"\[127\.0\.0\.1\]:\d+ D=\d+s$")
    tern.wait_for_log(LINE_HEAD + r"SMTP connection from \(client\.example\) "
                      r"\[127\.0\.0\.1\]:\d+ lost while reading message "
                      r"data$")


def test_lost_incoming_connection_off(tern):
    tern.config(main="log_selector = -lost_incoming_connection "
                     "+smtp_incomplete_transaction\n")
    tern.start_daemon()
    lose_mid_transaction(tern)
    tern.wait_for_log(r"incomplete transaction \(connection lost\)")
    time.sleep(0.5)
    assert " lost" not in tern.mainlog().replace("(connection lost)", ""), \
        tern.mainlog()
    assert "unexpected" not in tern.mainlog(), tern.mainlog()


def test_command_timeout_is_lost_incoming_connection(tern):
    tern.config(main="smtp_receive_timeout = 1s\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.reply()[0] == 421
    tern.wait_for_log(LINE_HEAD + r"SMTP command timeout on connection from "
                      r"\(client\.example\) \[127\.0\.0\.1\]:\d+ D=\d+s$")


def test_command_timeout_not_logged_when_off(tern):
    tern.config(main="smtp_receive_timeout = 1s\n"
                     "log_selector = -lost_incoming_connection\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.reply()[0] == 421
    time.sleep(0.5)
    assert "timeout" not in tern.mainlog(), tern.mainlog()


def test_bs_connection_lines(tern):
    tern.config(main="log_selector = +smtp_connection +smtp_no_mail\n")
    r = tern.run(["-bs"], input=b"EHLO me\r\nQUIT\r\n")
    assert r.returncode == 0, r
    log = tern.mainlog()
    assert re.search(LINE_HEAD + r"SMTP connection from \S+$", log, re.M), log
    assert re.search(r"SMTP connection from \S+ D=\d+s closed by QUIT$", log,
                     re.M), log
    assert re.search(r"no MAIL in SMTP connection from \S+ D=\d+s "
                     r"C=EHLO,QUIT$", log, re.M), log


# ---------------------------------------------------------------- rejections
# Each of these is on by default; off, the mainlog loses the line but
# rejectlog keeps it, as in Exim.

def refuse_second_connection(tern):
    a = tern.raw()
    assert a.banner[0] == 220
    b = tern.raw()
    assert b.banner[0] == 421
    b.close()
    tern.wait_for_log(r"Connection from \[127\.0\.0\.1\] refused: too many "
                      r"connections$", which="reject")
    a.close()


@pytest.mark.parametrize("on", [True, False])
def test_connection_reject(tern, on):
    tern.config(main="smtp_accept_max = 1\n" +
                ("" if on else "log_selector = -connection_reject\n"))
    tern.start_daemon(["-odq"])
    refuse_second_connection(tern)
    assert ("refused: too many connections" in tern.mainlog()) == on, \
        tern.mainlog()


@pytest.mark.parametrize("on", [True, False])
def test_size_reject(tern, on):
    tern.config(main="message_size_limit = 1K\n" +
                ("" if on else "log_selector = -size_reject\n"))
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.cmd("MAIL FROM:<sender@example.net> SIZE=5000")[0] == 552
        c.expect("MAIL FROM:<sender@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n")
        assert c.cmd(".")[0] == 552
        c.expect("QUIT", 221)
    tern.wait_for_log(r"rejected MAIL FROM:<sender@example\.net>: message "
                      r"too big: size=5000", which="reject")
    tern.wait_for_log(r"rejected: message too big: max=1024", which="reject")
    log = tern.mainlog()
    assert ("size=5000" in log) == on and ("max=1024" in log) == on, log


def refused_data(c, sender, rcpts, data, code):
    """One transaction whose data the server refuses with code."""
    c.expect(f"MAIL FROM:<{sender}>", 250)
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", 250)
    c.expect("DATA", 354)
    c.send(data)
    assert c.cmd(".")[0] == code


@pytest.mark.parametrize("on", [True, False])
def test_rejected_header(tern, on):
    """A message refused after its header section (a mail loop, too
    big): the rejectlog's line is followed by the envelope, up to 5
    recipients, and the header lines after their type letters, as in
    Exim (a NUL in the data shown as '?'); the mainlog has the line
    alone.  -rejected_header: the line alone in both."""
    tern.config(main="message_size_limit = 4K\nreceived_headers_max = 3\n"
                + ("" if on else "log_selector = -rejected_header\n"),
                aliases="".join(f"r{i}: @DIR@/mail/r{i}\n"
                                for i in range(7)))
    tern.start_daemon()
    loop = b"".join(b"Received: from hop%d.example\r\n\tby x; "
                    b"Mon, 1 Jan 2024 00:00:00 +0000\r\n" % i
                    for i in range(3))
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        refused_data(c, "sender@example.net",
                     [f"r{i}@test.example" for i in range(7)],
                     loop + b"From: a@example.net\r\nSubject: loo\0ping\r\n"
                     b"Message-ID: <loop@client.example>\r\n\r\nbody\r\n",
                     550)
        refused_data(c, "big@example.net", ["r0@test.example"],
                     b"Subject: big\r\n\r\n" + b"x" * 6000 + b"\r\n", 552)
        c.expect("QUIT", 221)
    tern.wait_for_log(r"rejected: message too big: max=4096", which="reject")
    rej = tern.rejectlog()
    block = (r"rejected after DATA: too many Received headers - suspected "
             r"mail loop\n"
             r"Envelope-from: <sender@example\.net>\n"
             r"Envelope-to: <r0@test\.example>\n"
             r"    <r1@test\.example>\n    <r2@test\.example>\n"
             r"    <r3@test\.example>\n    <r4@test\.example>\n"
             r"    \.\.\.\n"
             r"P Received: from hop0\.example\n\tby x; Mon, 1 Jan 2024 "
             r"00:00:00 \+0000\n"
             r"(P Received: .*\n\t.*\n){2}"
             r"F From: a@example\.net\n"
             r"  Subject: loo\?ping\n"
             r"I Message-ID: <loop@client\.example>\n")
    assert bool(re.search(block, rej)) == on, rej
    big = (r"rejected: message too big: max=4096\n"
           r"Envelope-from: <big@example\.net>\n"
           r"Envelope-to: <r0@test\.example>\n"
           r"  Subject: big\n")
    assert bool(re.search(big, rej)) == on, rej
    assert "\0" not in rej
    # Nothing of the block reaches the mainlog.
    main = tern.mainlog()
    assert "mail loop" in main and "Envelope-to" not in main, main
    assert "Subject: loo" not in main, main


def test_rejected_header_cut_at_16k(tern):
    """A header section larger than the rejectlog keeps is cut after a
    whole line, with Exim's marker, and the next line is a new entry."""
    tern.config(main="received_headers_max = 1\n")
    tern.start_daemon()
    big = b"".join(b"X-Filler-%02d: %s\r\n" % (i, b"f" * 990)
                   for i in range(40))
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        refused_data(c, "sender@example.net", ["alice@test.example"],
                     b"Received: from a\r\n" + big + b"\r\nbody\r\n", 550)
        refused_data(c, "second@example.net", ["alice@test.example"],
                     b"Received: from b\r\nReceived: from c\r\n\r\nx\r\n",
                     550)
        c.expect("QUIT", 221)
    tern.wait_for_log(r"F=<second@example\.net> rejected", which="reject")
    rej = tern.rejectlog()
    m = re.search(r"suspected mail loop\n(.*?)\*\*\* truncated \*\*\*\n"
                  r"(\d{4}-\d\d-\d\d .*)\n", rej, re.S)
    assert m, rej
    block = m.group(1)
    assert 14000 < len(block) < 16384, len(block)
    assert all(re.match(r"(Envelope-|    <|[ *A-Z] \S|\s)", ln)
               for ln in block.splitlines()), block[:300]
    assert block.endswith("f\n")


@pytest.mark.parametrize("on", [True, False])
def test_sender_verify_fail(tern, on):
    tern.config(main="sender_verify = true\n" +
                ("" if on else "log_selector = -sender_verify_fail\n"))
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        assert c.cmd("MAIL FROM:<nosuchuser@test.example>")[0] == 550
        c.expect("QUIT", 221)
    m = tern.wait_for_log(r"rejected MAIL FROM:<nosuchuser@test\.example>: "
                          r"sender verify failed(.*)$")
    # off: only that it failed, not why (Exim's "some detail is lost")
    assert (m.group(1) != "") == on, m.group(0)


@pytest.mark.parametrize("on", [True, False])
def test_delay_delivery(tern, on):
    tern.config(main="smtp_accept_queue_per_connection = 1\n" +
                ("" if on else "log_selector = -delay_delivery\n"))
    tern.start_daemon()
    with tern.smtp() as s:
        for i in range(2):
            s.sendmail("sender@example.net", ["alice@test.example"],
                       make_message(subject=f"m{i}"))
    ids = tern.arrivals()
    tern.wait_completed(ids[0])
    time.sleep(0.5)
    assert (f"{ids[1]} no immediate delivery" in tern.mainlog()) == on, \
        tern.mainlog()
    assert tern.queue_ids() == [ids[1]]


@pytest.mark.parametrize("on", [True, False])
def test_host_lookup_failed(tern, on):
    text = STANDARD_CONFIG.replace(
        "begin transports\n\n",
        "begin transports\n\nremote_smtp:\n  driver = smtp\n", 1)
    tern.config(text.replace("@MAIN@", "" if on else
                             "log_selector = -host_lookup_failed\n") +
                "\nbegin routers\n\nsmarthost:\n  driver = manualroute\n"
                "  transport = remote_smtp\n"
                "  route_list = * nonexistent.invalid byname\n")
    r = tern.run(["-odi", "-i", "far@remote.example"],
                 input=b"Subject: a\n\nx\n", prog="sendmail")
    assert r.returncode == 0, r
    log = tern.mainlog()
    assert (re.search(r"^\S+ \S+ no IP address found for host "
                      r"nonexistent\.invalid$", log, re.M) is not None) == on, \
        log

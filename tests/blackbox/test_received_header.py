"""received_header_text (docs/config.md): the Received: header an admin
writes, expanded for each message as Exim does, with Exim's variables for
it ($sender_rcvhost, $received_for, $message_exim_id ...)."""

import re

from tern_helpers import LOG_HEAD, make_message

# Exim 4's own default, verbatim (its specification, received_header_text)
EXIM_DEFAULT = (
    "Received: ${if def:sender_rcvhost {from $sender_rcvhost\\n\\t}"
    "{${if def:sender_ident {from ${quote_local_part:$sender_ident} }}"
    "${if def:sender_helo_name {(helo=$sender_helo_name)\\n\\t}}}}"
    "by $primary_hostname ${if def:received_protocol {with "
    "$received_protocol }}${if def:tls_in_ver { ($tls_in_ver)}}"
    "${if def:tls_in_cipher_std { tls $tls_in_cipher_std\\n\\t}}"
    "(Exim $version_number)\\n\\t${if def:sender_address "
    "{(envelope-from <$sender_address>)\\n\\t}}id $message_exim_id"
    "${if def:received_for {\\n\\tfor $received_for}}")


def headers_of(raw):
    return raw.split(b"\n\n", 1)[0].decode()


def first_received(raw):
    m = re.search(r"^Received:.*?(?=^\S)", headers_of(raw) + "\nX:",
                  re.M | re.S)
    return m.group(0)


def test_exim_default_text_over_smtp(tern):
    tern.config(main=f"received_header_text = {EXIM_DEFAULT}\n")
    tern.start_daemon()
    assert tern.send("alice@test.example") == {}
    (raw,) = tern.wait_mbox("alice")
    (mid,) = tern.arrivals()
    rcv = first_received(raw)
    want = (r"Received: from \[127\.0\.0\.1\] \(port=\d+ "
            r"helo=client\.example\)\n\tby test\.example with esmtp "
            r"\(Exim [0-9.]+\)\n\t\(envelope-from <sender@example\.net>\)\n"
            r"\tid " + re.escape(mid) + r"\n\tfor alice@test\.example;\n"
            r"\t\w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n$")
    assert re.match(want, rcv), rcv
    assert not tern.paniclog()


def test_local_submission_has_the_login(tern):
    tern.config(main=f"received_header_text = {EXIM_DEFAULT}\n")
    r = tern.run(["-odi", "alice@test.example", "bob@test.example"],
                 input=make_message(), prog="sendmail")
    assert r.returncode == 0, r
    (raw,) = tern.wait_mbox("alice")
    rcv = first_received(raw)
    # two recipients: no "for"; no host: the login
    assert rcv.startswith(f"Received: from {tern.user} by test.example "
                          "with local (Exim "), rcv
    assert "\tfor " not in rcv, rcv


def test_empty_expansion_adds_no_received_header(tern):
    tern.config(main="received_header_text = ${if eq{1}{2}{x}}\n")
    tern.start_daemon()
    msg = ("Received: from up.example by hop1.example with esmtp id "
           "1xUPST-000000-000000000;\r\n Tue, 24 Nov 2026 10:00:00 +0000\r\n"
           ).encode() + make_message()
    assert tern.send("alice@test.example", msg=msg) == {}
    (raw,) = tern.wait_mbox("alice")
    hdrs = headers_of(raw)
    assert hdrs.count("Received:") == 1, hdrs
    assert "hop1.example" in hdrs
    # the upstream id is still the one of the header the message came with
    assert re.search(LOG_HEAD + r"\S+ <= .* RI=1xUPST-000000-000000000",
                     tern.mainlog(), re.M), tern.mainlog()


def test_failed_expansion_uses_the_builtin_header(tern):
    tern.config(main="received_header_text = Received: by $no_such_var\n")
    tern.start_daemon()
    assert tern.send("alice@test.example") == {}
    (raw,) = tern.wait_mbox("alice")
    rcv = first_received(raw)
    assert rcv.startswith("Received: from client.example ([127.0.0.1]:"), rcv
    assert "(Tern " in rcv
    assert "received_header_text failed" in tern.paniclog()
    assert "no_such_var" in tern.paniclog()


def test_text_that_is_not_a_received_header_is_refused(tern):
    tern.config(main="received_header_text = X-Rcvd: by $primary_hostname\n")
    r = tern.run(["-odi", "alice@test.example"], input=make_message(),
                 prog="sendmail")
    assert r.returncode == 0, r
    (raw,) = tern.wait_mbox("alice")
    assert "X-Rcvd" not in headers_of(raw)
    assert first_received(raw).startswith("Received: from ")
    assert 'does not start with "Received:"' in tern.paniclog()


def test_folding_and_tls_variables(tern):
    """A newline in the text is folded; the port follows incoming_port."""
    tern.config(main="received_header_text = Received: by x\\nid "
                     "$message_exim_id from $sender_rcvhost  \\n\n"
                     "log_selector = -incoming_port\n")
    tern.start_daemon()
    assert tern.send("alice@test.example") == {}
    (raw,) = tern.wait_mbox("alice")
    rcv = first_received(raw)
    assert re.match(r"Received: by x\n\tid \S+ from \[127\.0\.0\.1\] "
                    r"\(helo=client\.example\);\n\t\w{3}, ", rcv), rcv

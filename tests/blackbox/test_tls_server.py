"""TLS server: STARTTLS, TLS on connect, the STARTTLS injection defence,
TLS 1.2 as the minimum, SNI, and the cipher in logs and Received."""

import re
import smtplib
import socket
import ssl
import subprocess
import time

from tern_helpers import (SCALE, free_port, make_cert, make_message,
                          split_message, tls_client_context)


def tls_config(tern, extra=""):
    cert, key = make_cert(tern.dir, "test.example")
    tern.config(main=f"tls_certificate = {cert}\n"
                     f"tls_privatekey = {key}\n" + extra)
    return cert, key


def ehlo_keywords(s):
    code, text = s.ehlo("client.example")
    assert code == 250
    return [line.split()[0].upper() for line in
            text.decode().splitlines()[1:]]


def test_starttls_not_offered_without_certificate(tern):
    tern.config()
    tern.start_daemon()
    with tern.smtp() as s:
        assert "STARTTLS" not in ehlo_keywords(s)
        code, _ = s.docmd("STARTTLS")
        assert code == 503


def test_starttls_smtplib_delivers_and_logs_cipher(tern):
    tls_config(tern)
    tern.start_daemon()
    rcpt = "alice@test.example"
    with smtplib.SMTP("127.0.0.1", tern.port, timeout=30 * SCALE) as s:
        assert "STARTTLS" in ehlo_keywords(s)
        code, _ = s.starttls(context=tls_client_context())
        assert code == 220
        version = s.sock.version()
        assert version in ("TLSv1.2", "TLSv1.3")
        # RFC 3207: no STARTTLS offered twice, state reset (EHLO again)
        assert "STARTTLS" not in ehlo_keywords(s)
        s.sendmail("sender@example.net", [rcpt],
                   make_message(to=rcpt, subject="over tls"))
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    hdrs, _ = split_message(raw)
    received = hdrs.get_all("Received")[0]
    want = version.replace("v", "")
    assert re.search(r"with esmtps \(" + re.escape(want) + r":[A-Z0-9_-]+:\d+\)",
                     received), received
    line = [l for l in tern.mainlog().splitlines() if " <= " in l][0]
    assert " P=esmtps " in line and f" X={want}:" in line, line


def test_starttls_openssl_s_client(tern):
    tls_config(tern)
    tern.start_daemon()
    p = subprocess.Popen(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         f"127.0.0.1:{tern.port}", "-crlf", "-brief", "-ign_eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # one command at a time: tern enforces SMTP synchronisation
        p.stdin.write("EHLO after.tls\n")
        p.stdin.flush()
        seen = []
        while not seen or not seen[-1].startswith("250 "):
            line = p.stdout.readline()
            assert line, f"s_client ended early: {seen}"
            seen.append(line)
        assert any(l.startswith("250-test.example Hello after.tls")
                   for l in seen), seen
        assert not any("STARTTLS" in l for l in seen), seen
        p.stdin.write("QUIT\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30 * SCALE)
    finally:
        if p.poll() is None:
            p.kill()
    assert "221 " in out, out
    assert "Protocol version: TLSv1.3" in err, err


def test_tls_on_connect_port(tern):
    tls_port = free_port()
    tls_config(tern, f"tls_on_connect_ports = {tls_port}\n")
    tern.start_daemon()
    rcpt = "bob@test.example"
    with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=30 * SCALE,
                          context=tls_client_context()) as s:
        assert "STARTTLS" not in ehlo_keywords(s)
        s.sendmail("sender@example.net", [rcpt],
                   make_message(to=rcpt, subject="smtps"))
    tern.wait_queue_empty()
    (raw,) = tern.mbox("bob")
    assert b"with esmtps (TLS1.3:" in raw
    # the plain port still speaks clear text
    with tern.smtp() as s:
        assert "STARTTLS" in ehlo_keywords(s)


def test_commands_pipelined_with_starttls_are_discarded(tern):
    tls_config(tern)
    tern.start_daemon()
    sock = socket.create_connection(("127.0.0.1", tern.port),
                                    timeout=20 * SCALE)
    f = sock.makefile("rb")

    def reply(rf):
        lines = []
        while True:
            line = rf.readline().decode()
            assert line, f"connection closed after {lines}"
            lines.append(line)
            if line[3:4] == " ":
                return int(line[:3]), lines

    assert reply(f)[0] == 220
    sock.sendall(b"EHLO client.example\r\n")
    assert reply(f)[0] == 250
    # the injection: a command after STARTTLS in the same packet
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.net>\r\n")
    assert reply(f)[0] == 220
    tls = tls_client_context().wrap_socket(sock,
                                           server_hostname="test.example")
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO client.example\r\n")
    assert reply(tf)[0] == 250
    # had the injected MAIL been run, this RCPT would be accepted
    tls.sendall(b"RCPT TO:<alice@test.example>\r\n")
    code, lines = reply(tf)
    assert code == 503, lines
    assert "MAIL first" in lines[-1]
    tls.sendall(b"MAIL FROM:<real@example.net>\r\n")
    assert reply(tf)[0] == 250
    tls.sendall(b"QUIT\r\n")
    assert reply(tf)[0] == 221
    tls.close()
    log = tern.mainlog()
    assert re.search(r"SMTP command pipelined after STARTTLS from "
                     r"H=\[127\.0\.0\.1\]: \d+ bytes discarded", log), log
    assert "injected@example.net" not in log


def test_tls_1_1_refused(tern):
    tls_config(tern)
    tern.start_daemon()
    # SECLEVEL=0 lets this client offer TLS 1.1: the server must refuse.
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         f"127.0.0.1:{tern.port}", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
        input="QUIT\n", capture_output=True, text=True, timeout=30 * SCALE)
    assert r.returncode != 0
    assert "Protocol version: TLSv1.1" not in r.stderr + r.stdout
    tern.wait_for_log(r"TLS error on connection from \[127\.0\.0\.1\]: "
                      r"TLS handshake: .*(unsupported protocol|version)")
    # TLS 1.2 is still fine
    ctx = tls_client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with tern.smtp() as s:
        s.starttls(context=ctx)
        assert s.sock.version() == "TLSv1.2"


def test_tls_require_ciphers(tern):
    tls_config(tern, "tls_require_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n")
    tern.start_daemon()
    ctx = tls_client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with tern.smtp() as s:
        s.starttls(context=ctx)
        assert s.sock.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    ctx = tls_client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    with tern.smtp() as s:
        try:
            s.starttls(context=ctx)
            raise AssertionError("a cipher outside tls_require_ciphers "
                                 "was accepted")
        except (ssl.SSLError, smtplib.SMTPServerDisconnected,
                ConnectionError):
            pass


def test_sni_selects_certificate(tern):
    default, dkey = make_cert(tern.dir, "test.example")
    other, okey = make_cert(tern.dir, "other.example")
    tern.config(main=(
        "tls_certificate = ${if eq{$tls_in_sni}{other.example}"
        f"{{{other}}}{{{default}}}}}\n"
        "tls_privatekey = ${if eq{$tls_in_sni}{other.example}"
        f"{{{okey}}}{{{dkey}}}}}\n"))
    tern.start_daemon()

    def peer_subject(sni):
        with tern.smtp() as s:
            s._host = sni   # smtplib sends it as server_hostname (SNI)
            s.starttls(context=tls_client_context())
            der = s.sock.getpeercert(binary_form=True)
        r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                            "-subject"], input=der, capture_output=True)
        return r.stdout.decode()

    assert "CN = other.example" in peer_subject("other.example")
    assert "CN = test.example" in peer_subject("test.example")


def test_client_certificate_dn_logged(tern):
    cert, key = make_cert(tern.dir, "test.example")
    ccert, ckey = make_cert(tern.dir, "client.example")
    tern.config(main=f"tls_certificate = {cert}\ntls_privatekey = {key}\n"
                     "tls_verify_hosts = 127.0.0.1\n"
                     f"tls_verify_certificates = {ccert}\n"
                     # DN= is off by default, as in Exim
                     "log_selector = +tls_peerdn\n")
    tern.start_daemon()
    ctx = tls_client_context()
    ctx.load_cert_chain(str(ccert), str(ckey))
    rcpt = "carol@test.example"
    with tern.smtp() as s:
        s.starttls(context=ctx)
        s.ehlo("client.example")
        s.sendmail("sender@example.net", [rcpt], make_message(to=rcpt))
    tern.wait_queue_empty()
    line = [l for l in tern.mainlog().splitlines() if " <= " in l][0]
    assert ' DN="CN=client.example"' in line, line


def test_tls_handshake_times_out(tern):
    tls_port = free_port()
    tls_config(tern, f"tls_on_connect_ports = {tls_port}\n"
                     "smtp_receive_timeout = 1s\n")
    tern.start_daemon()
    sock = socket.create_connection(("127.0.0.1", tls_port),
                                    timeout=20 * SCALE)
    start = time.monotonic()
    assert sock.recv(100) == b""   # closed by the server, nothing sent
    assert time.monotonic() - start < 10 * SCALE
    sock.close()
    tern.wait_for_log(r"TLS error on connection from \[127\.0\.0\.1\]: "
                      r"timeout during the TLS handshake")

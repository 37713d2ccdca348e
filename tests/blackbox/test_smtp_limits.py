"""Protocol limits: synchronisation (smtp_enforce_sync), syntax and
protocol errors, unknown commands, recipients, header count and size,
timeouts -- a hostile client can neither confuse the session nor make
the server hold on to it or its memory."""

import os
import signal
import socket
import time

import pytest

from tern_helpers import SCALE, make_message, spares_of


def connect(tern):
    return socket.create_connection(("127.0.0.1", tern.port),
                                    timeout=20 * SCALE)


def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("banner", [
    "", "smtp_banner = $primary_hostname ready\n"],
    ids=["daemon-greets", "reception-greets"])
def test_input_before_greeting_dropped(tern, banner):
    """Input before the 220 is dropped, whether the daemon would have
    sent the 220 (a banner without expansion) or the reception process.
    The daemon is stopped while the client connects and talks, so the
    input is surely there before it accepts."""
    tern.config(main=banner)
    tern.start_daemon()
    # and its spare reception process, which would accept it at once
    stopped = [tern.daemon.pid, *spares_of(tern.daemon.pid)]
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        s = connect(tern)
        s.sendall(b"EHLO too.early\r\n")
        time.sleep(0.2)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    with s:
        data = read_all(s)
    assert data.startswith(b"554 "), data
    assert b"220" not in data
    tern.wait_for_log(r"SMTP protocol synchronization error \(input sent "
                      r"without waiting for greeting\): rejected connection "
                      r'from H=\[127\.0\.0\.1\] next input="EHLO too\.early')


def test_quit_then_close_is_not_a_sync_error(tern):
    """Postfix's client and load generators send QUIT and close at once,
    without waiting for 221: the close is not input sent too early."""
    tern.config()
    tern.start_daemon()
    for _ in range(5):
        with tern.raw() as c:
            c.expect("EHLO client.example", 250)
            c.expect("MAIL FROM:<a@example.net>", 250)
            c.expect("RCPT TO:<alice@test.example>", 250)
            c.expect("DATA", 354)
            c.send("Subject: bye\r\n\r\nbody\r\n.\r\n")
            assert c.reply()[0] == 250
            c.sock.sendall(b"QUIT\r\n")
            c.sock.shutdown(socket.SHUT_WR)
    tern.wait_queue_empty()
    tern.wait_for_log(r"Completed")
    assert "synchronization" not in tern.mainlog() + tern.rejectlog()


def test_pipelining_without_pipelining_advertised_dropped(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("HELO client.example", 250)    # no PIPELINING with HELO
        c.send("MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@test.example>\r\n")
        code, text = c.reply()
        assert code == 554, text
        assert c.sock.recv(100) == b""
    tern.wait_for_log(r"synchronization error \(next input sent too soon: "
                      r"pipelining was not advertised\)")


def test_554_reaches_a_client_whose_input_is_left_unread(tern):
    """The session's last reply is queued to leave with the FIN
    (docs/process.md): it must still be sent when the client's input
    that the session never read is left in the socket, where a bare
    close() answers with a reset that discards what is queued."""
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("HELO client.example", 250)
        # Far more than one read of the server's: most stays unread.
        c.sock.sendall(b"NOOP\r\nNOOP\r\n" + b"X" * 400000 + b"\r\n")
        try:
            code, text = c.reply()
        except ConnectionResetError as e:
            raise AssertionError("reset before any reply") from e
        assert code == 554, text
    tern.wait_for_log(r"synchronization error \(next input sent too soon")


def test_pipelining_advertise_hosts(tern):
    tern.config(main="pipelining_advertise_hosts = 10.0.0.1\n")
    tern.start_daemon()
    with tern.smtp() as s:
        assert not s.has_extn("pipelining")
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.send("MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@test.example>\r\n")
        assert c.reply()[0] == 554


def test_command_after_ehlo_in_same_packet_dropped(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.send("EHLO client.example\r\nMAIL FROM:<a@example.net>\r\n")
        code, text = c.reply()
        assert code == 554, text


def test_enforce_sync_off(tern):
    tern.config(main="smtp_enforce_sync = false\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.send("HELO client.example\r\nMAIL FROM:<a@example.net>\r\n"
               "RCPT TO:<alice@test.example>\r\n")
        assert [c.reply()[0] for _ in range(3)] == [250, 250, 250]
        c.expect("QUIT", 221)


def test_too_many_syntax_errors_drop(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        for _ in range(3):
            assert c.cmd("MAIL FROM:<bad@@example.net>")[0] == 501
        c.send("MAIL FROM:<bad@@example.net>\r\n")
        assert c.reply()[0] == 501
        code, text = c.reply()
        assert code == 421 and "too many syntax or protocol errors" in text
    tern.wait_for_log(r"dropped: too many syntax or protocol errors")


def test_too_many_unknown_commands_drop(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        for _ in range(3):
            assert c.cmd("XYZZY")[0] == 500
        code, text = c.cmd("XYZZY")
        assert code == 421, text


def test_over_long_command(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        code, _ = c.cmd("NOOP " + "x" * 5000)
        assert code == 500
        c.expect("NOOP", 250)


def test_recipients_max(tern):
    tern.config(main="recipients_max = 2\n")
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("RCPT TO:<bob@test.example>", 250)
        assert c.cmd("RCPT TO:<carol@test.example>")[0] == 452


def send_data(tern, body):
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.net>", 250)
        c.expect("RCPT TO:<alice@test.example>", 250)
        c.expect("DATA", 354)
        c.send(body + b".\r\n")
        code, text = c.reply()
        c.expect("NOOP", 250)        # still in step after the refusal
        return code, text


def test_header_count_max(tern):
    tern.config(main="header_count_max = 20\n")
    tern.start_daemon()
    many = [f"X-Header-{i}: {i}" for i in range(30)]
    code, text = send_data(tern, make_message(headers=many))
    assert code == 554 and "too many header lines" in text, text
    code, _ = send_data(tern, make_message(headers=many[:10]))
    assert code == 250


def test_header_line_maxsize(tern):
    tern.config(main="header_line_maxsize = 1000\n")
    tern.start_daemon()
    folded = "X-Long: start" + "\r\n\tcontinued" * 200
    code, text = send_data(tern, make_message(headers=[folded]))
    assert code == 554 and "header line too long" in text, text
    code, _ = send_data(tern, make_message(headers=["X-Short: ok"]))
    assert code == 250


def test_command_timeout(tern):
    tern.config(main="smtp_receive_timeout = 1s\n")
    tern.start_daemon()
    with tern.raw() as c:
        start = time.monotonic()
        code, text = c.reply()
        assert code == 421 and "timeout" in text
        assert time.monotonic() - start < 10 * SCALE

"""The generic transport options headers_add and headers_remove, applied by
the core's message writer for every transport: appendfile (mbox and
Maildir), pipe and smtp (to an aiosmtpd peer).  headers_add is expanded for
the delivery (its first address), each line a header added at the end of
the header section; headers_remove is an expanded colon-separated list of
header names removed caselessly.  A failed expansion or a malformed added
line defers the delivery before anything is written."""

import re

import pytest

from remote_peers import Peer
from tern_helpers import (LOG_HEAD, STANDARD_CONFIG, free_port, make_message,
                          split_message)

ADD = r"X-Delivered-To: $local_part@$domain\nX-Second: two"

EXTRA_HEADERS = ("X-Remove-Me: one", "x-remove-me: two",
                 "X-REMOVE-ME: three\n\tfolded", "X-Keep: yes",
                 "X-Other: gone")


def transport_opts(name, opts):
    """STANDARD_CONFIG with opts (lines) added to transport `name`."""
    head = f"{name}:\n  driver = "
    pos = STANDARD_CONFIG.index(head)
    end = STANDARD_CONFIG.index("\n\n", pos)
    return STANDARD_CONFIG[:end] + "\n" + opts.rstrip("\n") + \
        STANDARD_CONFIG[end:]


def submit(tern, to, **kw):
    if isinstance(to, str):
        to = [to]
    before = set(tern.arrivals())
    msg = make_message(to=", ".join(to), headers=EXTRA_HEADERS, **kw)
    r = tern.run(["-odi", "-f", "sender@example.net", *to], input=msg)
    r.ok()
    (mid,) = [m for m in tern.arrivals() if m not in before]
    return mid


def header_names(raw):
    """Header names of a raw message, in order (LF or CRLF)."""
    raw = raw.replace(b"\r\n", b"\n")
    head = raw[:raw.index(b"\n\n")].decode("utf-8", "replace")
    return [l.split(":", 1)[0] for l in head.split("\n")
            if l and l[0] not in " \t"]


def check_changed(raw, local_part, domain):
    raw = raw.replace(b"\r\n", b"\n")
    hdrs, body = split_message(raw)
    assert hdrs["X-Delivered-To"] == f"{local_part}@{domain}", raw
    assert hdrs["X-Second"] == "two", raw
    assert hdrs.get_all("X-Remove-Me") is None, raw
    assert b"folded" not in raw
    assert hdrs["X-Keep"] == "yes"
    assert hdrs["Subject"] == "test message"
    assert body == b"Hello.\n"
    names = header_names(raw)
    # added at the end of the header section, in order
    assert names[-2:] == ["X-Delivered-To", "X-Second"], names
    return hdrs


def test_mbox_headers_add_and_remove(tern):
    tern.config(transport_opts("local_mbox", f"  headers_add = {ADD}\n"
                               "  headers_remove = X-Remove-Me : x-other\n"))
    to = f"{tern.user}@test.example"
    mid = submit(tern, to)
    tern.wait_completed(mid)
    (raw,) = tern.mbox(tern.user)
    hdrs = check_changed(raw, tern.user, "test.example")
    assert hdrs.get_all("X-Other") is None
    # the other generic options still apply
    assert hdrs["Return-path"] == "<sender@example.net>"
    assert tern.queue_ids() == []


def test_maildir_headers_add_and_remove(tern):
    tern.config(transport_opts(
        "local_maildir", f"  headers_add = {ADD}\n"
        "  headers_remove = ${if eq{$domain}{maildir.example}"
        "{X-REMOVE-ME:}{X-Keep}}\n"))
    to = f"{tern.user}@maildir.example"
    mid = submit(tern, to)
    tern.wait_completed(mid)
    (raw,) = tern.maildir(tern.user)
    hdrs = check_changed(raw, tern.user, "maildir.example")
    assert hdrs["X-Other"] == "gone"
    assert tern.queue_ids() == []


PIPE_ROUTE = """\
cmd_pipe:
  driver = pipe
  command = @DIR@/bin/cmd
  prefix =
  suffix =
@OPTS@

begin directors

to_pipe:
  driver = localuser
  domains = localhost
  transport = cmd_pipe
"""


def pipe_config(tern, opts):
    """Users @localhost go to the pipe transport cmd_pipe."""
    text = STANDARD_CONFIG.replace("begin directors\n",
                                   PIPE_ROUTE.replace("@OPTS@", opts))
    tern.config(text)
    tern.script("cmd", "#!/bin/sh\ncat > @DIR@/out/piped\n")


def test_pipe_gets_the_changed_message(tern):
    pipe_config(tern, f"  headers_add = {ADD}\n"
                "  headers_remove = x-remove-me\n")
    mid = submit(tern, f"{tern.user}@localhost")
    tern.wait_completed(mid)
    raw = tern.path("out", "piped").read_bytes()
    hdrs = check_changed(raw, tern.user, "localhost")
    assert hdrs["X-Other"] == "gone"


def test_pipe_not_run_for_a_malformed_header(tern):
    pipe_config(tern, "  headers_add = X-Good: yes\\nno colon here\n")
    mid = submit(tern, f"{tern.user}@localhost")
    tern.wait_for_log(LOG_HEAD + re.escape(mid) + " == " +
                      re.escape(tern.user) + r"@localhost R=to_pipe "
                      r"T=cmd_pipe defer \(0\): cmd_pipe transport: "
                      r"headers_add: .*not a header line")
    assert not tern.path("out", "piped").exists()
    assert tern.queue_ids() == [mid]


@pytest.fixture
def smarthost():
    p = Peer("127.0.0.3", free_port())
    p.start()
    yield p
    p.stop()


def smtp_config(tern, peer, opts):
    transport = (f"remote_smtp:\n  driver = smtp\n  port = {peer.port}\n"
                 f"  connect_timeout = 5s\n{opts}\n")
    routers = ("\nbegin routers\n\nsmarthost:\n  driver = manualroute\n"
               "  transport = remote_smtp\n"
               "  route_list = * 127.0.0.3\n")
    text = STANDARD_CONFIG.replace("begin transports\n\n",
                                   "begin transports\n\n" + transport, 1)
    tern.config(text + routers)


def test_smtp_headers_add_and_remove(tern, smarthost):
    smtp_config(tern, smarthost, f"  headers_add = {ADD}\n"
                "  headers_remove = X-Remove-Me:X-Other\n")
    mid = submit(tern, "far@remote.example")
    (m,) = smarthost.wait_messages(1)
    hdrs = check_changed(m.data, "far", "remote.example")
    assert hdrs.get_all("X-Other") is None
    # 7-bit message and headers: no BODY=8BITMIME
    assert not any("8BITMIME" in o.upper() for o in m.mail_options), \
        m.mail_options
    tern.wait_completed(mid)
    assert tern.queue_ids() == []


def test_smtp_8bit_added_header_sends_8bitmime(tern, smarthost):
    smtp_config(tern, smarthost, "  headers_add = X-Note: caf\u00e9\n")
    mid = submit(tern, "far@remote.example")
    (m,) = smarthost.wait_messages(1)
    assert "X-Note: caf\u00e9".encode() in m.data, m.data
    assert any(o.upper() == "BODY=8BITMIME" for o in m.mail_options), \
        m.mail_options
    tern.wait_completed(mid)


def test_smtp_failed_expansion_sends_nothing(tern, smarthost):
    smtp_config(tern, smarthost, "  headers_add = X-Bad: ${if bad}\n")
    mid = submit(tern, "far@remote.example")
    tern.wait_for_log(LOG_HEAD + re.escape(mid) + r" == far@remote\.example "
                      r"R=smarthost T=remote_smtp defer .*failed to expand "
                      r"headers_add")
    assert smarthost.messages == []
    assert tern.queue_ids() == [mid]


def test_failed_expansion_defers_and_keeps_the_message(tern):
    tern.config(transport_opts(
        "local_mbox", "  headers_add = X-A: ${lookup{k}lsearch{/nonexistent"
        "/headers-file}}\n"))
    to = f"{tern.user}@test.example"
    mid = submit(tern, to)
    tern.wait_for_log(LOG_HEAD + re.escape(mid) + " == " + re.escape(to) +
                      r" R=localuser T=local_mbox defer \(\d+\): failed to "
                      r"expand headers_add .* in local_mbox transport")
    assert not tern.path("mail", tern.user).exists()
    assert tern.queue_ids() == [mid]


@pytest.mark.parametrize("value,why", [
    ("no colon here", "not a header line"),
    ("Bad Name: x", "bad header name"),
    (": x", "empty header name"),
    ("\\tcontinued: x", "follows no header"),
])
def test_malformed_added_header_defers(tern, value, why):
    tern.config(transport_opts("local_mbox", f"  headers_add = {value}\n"))
    to = f"{tern.user}@test.example"
    mid = submit(tern, to)
    tern.wait_for_log(LOG_HEAD + re.escape(mid) + " == " + re.escape(to) +
                      r" R=localuser T=local_mbox defer \(0\): "
                      r"local_mbox transport: headers_add: .*" + why)
    assert not tern.path("mail", tern.user).exists()
    assert tern.queue_ids() == [mid]


@pytest.mark.parametrize("value", [
    "${if eq{a}{b}{X-No: x}}",          # empty
    "${if eq{a}{b}{X-No: x}fail}",      # forced failure
    "\\n\\n",                           # only blank lines
])
def test_empty_expansion_adds_nothing(tern, value):
    tern.config(transport_opts("local_mbox", f"  headers_add = {value}\n"
                               "  headers_remove = ${if eq{a}{b}{X-Keep}"
                               "fail}\n"))
    to = f"{tern.user}@test.example"
    mid = submit(tern, to)
    tern.wait_completed(mid)
    (raw,) = tern.mbox(tern.user)
    hdrs, body = split_message(raw)
    assert body == b"Hello.\n"
    assert hdrs.get_all("X-No") is None
    assert len(hdrs.get_all("X-Remove-Me")) == 3
    assert hdrs["X-Keep"] == "yes"
    assert header_names(raw)[-1] == "X-Other", header_names(raw)


def test_smtp_batch_uses_the_first_address(tern, smarthost):
    """One transaction for two recipients: the message is written once,
    expanded for the first address."""
    smtp_config(tern, smarthost, "  headers_add = X-First: $local_part\n")
    mid = submit(tern, ["first@remote.example", "second@remote.example"])
    (m,) = smarthost.wait_messages(1)
    assert sorted(m.rcpts) == ["first@remote.example",
                               "second@remote.example"]
    hdrs, _ = split_message(m.data.replace(b"\r\n", b"\n"))
    assert hdrs.get_all("X-First") == ["first"], m.data
    tern.wait_completed(mid)


def test_smtp_return_path_verp(tern, smarthost):
    """return_path (Exim's generic transport option): the MAIL FROM this
    transport sends, expanded per delivery ($return_path is the sender)."""
    smtp_config(tern, smarthost,
                "  return_path = ${local_part:$return_path}+"
                "$local_part=$domain@${domain:$return_path}\n")
    mid = submit(tern, "far@remote.example")
    (m,) = smarthost.wait_messages(1)
    assert m.mail_from == "sender+far=remote.example@example.net", \
        m.mail_from
    tern.wait_completed(mid)


def test_local_return_path_and_failures(tern):
    """For a local transport return_path changes Return-path:; a forced
    failure keeps the sender; an expansion error or a bad address defers."""
    tern.config(transport_opts(
        "local_mbox", "  return_path = ${if eq{$local_part}{nobody}{fail}"
        "{bounces@example.org}}\n"))
    to = f"{tern.user}@test.example"
    mid = submit(tern, to)
    tern.wait_completed(mid)
    (raw,) = tern.mbox(tern.user)
    hdrs, _ = split_message(raw.replace(b"\r\n", b"\n"))
    assert hdrs["Return-path"] == "<bounces@example.org>", raw
    # the message's own sender is unchanged for the log
    assert re.search(r"<= sender@example\.net ", tern.mainlog())
    tern.config(transport_opts("local_mbox",
                               "  return_path = not an address\n"))
    mid = submit(tern, to)
    tern.wait_for_log(re.escape(mid) + r" == .*return_path \"not an "
                      r"address\" in local_mbox transport")
    assert len(tern.mbox(tern.user)) == 1

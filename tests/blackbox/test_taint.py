"""Taint (issue 6 point 3): data from the network is never expanded again
and never used as, or in, a file or command path unless a lookup or a
check produced it.  A canary file proves that nothing ran."""

from pathlib import Path

from tern_helpers import STANDARD_CONFIG, wait_for

# A director that accepts every local part of catchall.example without
# checking it, and transports that would put the local part in a path or
# a command, and one that uses no data from outside at all.
TAINT_CONFIG = STANDARD_CONFIG.replace(
    "local_domains = test.example :",
    "local_domains = catchall.example : safe.example : test.example :",
).replace("begin directors\n", """\
unchecked_file:
  driver = appendfile
  file = @DIR@/mail/$local_part

unchecked_pipe:
  driver = pipe
  command = @DIR@/bin/record $local_part

fixed_file:
  driver = appendfile
  file = @DIR@/mail/caught
  envelope_to_add

begin directors

catchall_file:
  driver = smartuser
  domains = catchall.example
  transport = unchecked_file

safe:
  driver = smartuser
  domains = safe.example
  transport = fixed_file
""")

RECORD = """#!/bin/sh
echo "$@" >> @DIR@/out/record
"""


def start_taint(tern):
    tern.config(TAINT_CONFIG)
    tern.script("record", RECORD)
    tern.start_daemon()


def test_unchecked_local_part_never_reaches_a_path(tern):
    start_taint(tern)
    tern.send('"../../canary"@catchall.example')
    tern.wait_for_log(r"== \S*canary\S*@catchall.example .*tainted")
    assert "tainted path" in tern.paniclog()
    assert not tern.path("canary").exists()
    assert not tern.path("mail", "..", "..", "canary").exists()
    assert not list(tern.path("mail").iterdir())
    # deferred, not bounced: an administrator has to fix the config
    assert "**" not in tern.mainlog()
    assert len(tern.queue_ids()) == 1


def test_local_part_is_never_run_or_expanded(tern):
    start_taint(tern)
    canary = Path(f"/tmp/tern-canary-{tern.port}")
    lp = f'"${{run{{/bin/sh -c \'touch {canary}\'}}}}"'
    tern.send(f"{lp}@safe.example")
    tern.send(f'"${{if eq{{a}}{{a}}{{yes}}}}"@safe.example')
    tern.send('"|/bin/touch canary"@safe.example')
    wait_for(lambda: tern.path("mail", "caught").exists() and
             tern.path("mail", "caught").read_bytes().count(b"\nFrom ") >= 2,
             20, "three deliveries to the fixed file")
    box = tern.path("mail", "caught").read_text()
    # delivered literally: the Envelope-to lines carry the local parts
    assert "${run{/bin/sh -c" in box
    assert "${if eq{a}{a}{yes}}" in box
    assert "|/bin/touch canary" in box
    assert not canary.exists()
    assert not tern.path("out", "record").exists()


def test_unchecked_local_part_never_reaches_a_command(tern):
    text = TAINT_CONFIG.replace("transport = unchecked_file",
                                "transport = unchecked_pipe")
    tern.config(text)
    tern.script("record", RECORD)
    tern.start_daemon()
    tern.send('"x;touch canary"@catchall.example')
    tern.wait_for_log(r"== .*@catchall.example .*tainted")
    assert not tern.path("out", "record").exists()
    assert not tern.path("canary").exists()


def test_checked_local_part_is_clean(tern):
    """localuser accepted the local part by looking it up: the usual
    file = /var/mail/$local_part works (DESIGN.md)."""
    tern.config()
    tern.start_daemon()
    tern.send(f"{tern.user}@test.example", subject="clean")
    wait_for(lambda: tern.path("mail", tern.user).exists(), 20, "delivery")
    assert "tainted" not in tern.paniclog()


def test_odd_local_parts_at_rcpt(tern):
    tern.config()
    tern.start_daemon()
    with tern.raw() as r:
        assert r.banner[0] == 220
        assert r.cmd("EHLO client.example")[0] == 250
        assert r.cmd("MAIL FROM:<s@example.com>")[0] == 250
        code = r.cmd("RCPT TO:<a\x00b@test.example>")[0]
        assert 500 <= code < 600
        code = r.cmd('RCPT TO:<"../../etc/passwd"@test.example>')[0]
        assert code == 550
        code = r.cmd("RCPT TO:<|id@test.example>")[0]
        assert code == 550

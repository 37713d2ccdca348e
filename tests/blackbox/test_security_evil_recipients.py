"""Recipients built to attack the MTA: expansion items, path traversal,
pipes and files, CR/LF and NUL.  They are refused or delivered
literally, and never run or used as a path: canary files prove it.

The configuration is deliberately careless -- what an administrator
might write -- so that only taint tracking stands between the network
and a shell or a file path:
  * `file = @DIR@/mail/$local_part` on the usual appendfile transport;
  * a catch-all localuser whose wildlsearch `*` entry accepts any local
    part (the lookup did not produce the value of $local_part);
  * a catch-all forwardfile that forwards to `$local_part` (so "|cmd"
    would become a pipe and "/path" a file)."""

import os

import pytest

from tern_helpers import STANDARD_CONFIG

CATCHALL = """
catchall_forward:
  driver = forwardfile
  domains = forward.example
  check_local_user = false
  data = $local_part
  pipe_transport = address_pipe
  file_transport = address_file

catchall_user:
  driver = localuser
  lookup_type = wildlsearch
  lookup_file = @DIR@/users
  transport = local_mbox
"""


def evil_config(tern):
    tern.write("users", f"*: {tern.uid} {tern.gid} {tern.dir}\n")
    conf = STANDARD_CONFIG.replace(
        "local_domains = test.example : localhost : maildir.example",
        "local_domains = test.example : localhost : maildir.example : "
        "forward.example")
    tern.config(conf + CATCHALL)


def canaries(tern):
    return [tern.path("canary_run"), tern.path("canary_pipe"),
            tern.path("canary_file"), tern.path("canary_lp"),
            tern.dir.parent / "canary_up"]


def evil_recipients(tern):
    d = tern.dir
    return [
        f'"${{run{{/bin/touch {d}/canary_run}}}}"@test.example',
        f'"${{run{{/bin/touch {d}/canary_run}}}}"@forward.example',
        f'"|/bin/touch {d}/canary_pipe"@forward.example',
        f'"|/bin/touch {d}/canary_pipe"@test.example',
        f'"{d}/canary_file"@forward.example',
        '"../canary_lp"@test.example',
        '"../../canary_up"@test.example',
        '"../canary_lp"@forward.example',
        '"${readfile{/etc/passwd}}"@test.example',
    ]


def test_evil_recipients_never_run_or_used_as_paths(tern):
    evil_config(tern)
    tern.start_daemon()
    accepted = []
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        for rcpt in evil_recipients(tern):
            c.expect("MAIL FROM:<attacker@example.net>", 250)
            code, text = c.cmd(f"RCPT TO:<{rcpt}>")
            assert code in (250, 451, 501, 550, 553), (rcpt, code, text)
            if code == 250:
                accepted.append(rcpt)
                c.expect("DATA", 354)
                c.send(b"Subject: evil\r\n\r\nbody\r\n.\r\n")
                assert c.reply()[0] == 250
            else:
                c.expect("RSET", 250)
        c.expect("QUIT", 221)
    # every delivery attempt has been made (or deferred)
    tern.wait_for_log(r"(Completed|==|\*\*)", timeout=20)
    ids = tern.arrivals()
    for i in ids:
        tern.wait_for_log(rf"{i} (Completed|==|\*\*)", timeout=20)
    for c in canaries(tern):
        assert not c.exists(), f"{c} exists: an evil recipient was used"
    # nothing was written outside the mail directories
    for name in os.listdir(tern.dir):
        assert not name.startswith("canary"), name
    # whatever was delivered went to a file named literally in mail/
    for f in tern.path("mail").iterdir():
        assert f.parent == tern.path("mail")
    assert tern.daemon.poll() is None, "the daemon died"


@pytest.mark.parametrize("line", [
    b"RCPT TO:<a\rb@test.example>\r\n",
    b"RCPT TO:<a\x00b@test.example>\r\n",
    b"RCPT TO:<alice@test.example>\x00<evil@test.example>\r\n",
    b"RCPT TO:<\"a\\\nb\"@test.example>\r\n",
])
def test_control_characters_in_recipients_refused(tern, line):
    evil_config(tern)
    tern.start_daemon()
    with tern.raw() as c:
        c.expect("EHLO client.example", 250)
        c.expect("MAIL FROM:<a@example.net>", 250)
        c.send(line)
        code, text = c.reply()
        assert code in (500, 501, 553), (line, code, text)
        # a second reply (the LF case makes two commands) is dropped
        c.pending(0.3)
        c.buf = b""
        c.expect("RSET", 250)
        c.expect("QUIT", 221)
    assert not tern.queue_ids()

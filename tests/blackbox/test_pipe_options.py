"""The pipe transport's options, with real commands: return_output,
return_fail_output, temp_errors, timeout/timeout_defer, environment,
path, use_shell, ignore_status, freeze_exec_fail, max_output,
log_output.  Pipes come from an alias ("p: |command") and run with the
transport `test_pipe`, whose options each test sets."""

import email
import email.policy
import re

from tern_helpers import LOG_HEAD

PIPE_CONFIG = """\
primary_hostname = test.example
qualify_domain = test.example
local_domains = test.example
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@

begin transports

local_mbox:
  driver = appendfile
  file = @DIR@/mail/$local_part
  return_path_add

test_pipe:
  driver = pipe
@OPTS@

begin directors

system_aliases:
  driver = aliasfile
  file = @DIR@/aliases
  search_type = lsearch
  pipe_transport = test_pipe

localuser:
  driver = localuser
  transport = local_mbox
"""


def setup_pipe(tern, opts, command='"|@DIR@/bin/cmd"', script=None):
    tern.config(PIPE_CONFIG.replace("@OPTS@", opts),
                aliases=f"p: {command}\n")
    if script is not None:
        tern.script("cmd", "#!/bin/sh\n" + script)


def submit(tern, body=b"piped body\n"):
    before = set(tern.arrivals())
    r = tern.run(["-odi", "-i", "p@test.example"],
                 input=b"Subject: to a pipe\n\n" + body, prog="sendmail")
    assert r.returncode == 0, r
    # the first new arrival (a bounce may follow it)
    return [m for m in tern.arrivals() if m not in before][0]


def bounce_text(tern):
    """The one bounce the sender (the caller) got, parsed with email:
    (message, all its text/* parts joined)."""
    boxes = tern.mbox(tern.user)
    assert len(boxes) == 1, tern.mainlog()
    msg = email.message_from_bytes(boxes[0], policy=email.policy.default)
    assert msg["From"] and "Mailer-Daemon" in msg["From"], msg
    text = "".join(p.get_content() for p in msg.walk()
                   if p.get_content_maintype() == "text")
    return msg, text


def test_return_output_fails_and_returns_output(tern):
    setup_pipe(tern, "  return_output", script=
               "cat >/dev/null\necho 'Vacation: I am away until Monday'\n"
               "echo 'second line' >&2\nexit 0\n")
    msgid = submit(tern)
    tern.wait_queue_empty()
    assert re.search(LOG_HEAD + re.escape(msgid) + r" \*\* \|.*produced "
                     r"output", tern.mainlog(), re.M), tern.mainlog()
    msg, text = bounce_text(tern)
    assert "Vacation: I am away until Monday" in text, text
    assert "second line" in text
    assert "p@test.example" in text


def test_return_fail_output(tern):
    setup_pipe(tern, "  return_fail_output", script=
               'cat >/dev/null\necho "all fine"\nexit 0\n')
    submit(tern)
    tern.wait_queue_empty()
    assert not tern.path("mail", tern.user).exists()   # no bounce
    setup_pipe(tern, "  return_fail_output", script=
               'cat >/dev/null\necho "quota exceeded for p"\nexit 1\n')
    submit(tern)
    tern.wait_queue_empty()
    _, text = bounce_text(tern)
    assert "quota exceeded for p" in text, text


def test_fail_output_not_returned_without_option(tern):
    setup_pipe(tern, "", script='cat >/dev/null\necho "secret"\nexit 1\n')
    submit(tern)
    tern.wait_queue_empty()
    _, text = bounce_text(tern)
    assert "returned 1" in text
    assert "secret" not in text


def test_temp_errors(tern):
    setup_pipe(tern, "  temp_errors = 42 : 75",
               script="cat >/dev/null\nexit 42\n")
    msgid = submit(tern)
    assert tern.queue_ids() == [msgid]
    assert re.search(LOG_HEAD + re.escape(msgid) + r" == \|.*returned 42",
                     tern.mainlog(), re.M), tern.mainlog()
    # 1 is not a temporary error: the retry fails it for good
    tern.script("cmd", "#!/bin/sh\ncat >/dev/null\nexit 1\n")
    assert tern.run(["-qf"]).returncode == 0
    tern.wait_queue_empty()
    assert re.search(LOG_HEAD + re.escape(msgid) + r" \*\* \|.*returned 1",
                     tern.mainlog(), re.M), tern.mainlog()


def test_timeout_fails_or_defers(tern):
    setup_pipe(tern, "  timeout = 1s", script="sleep 30\n")
    submit(tern)
    tern.wait_queue_empty()
    assert re.search(r" \*\* \|.*timed out after 1s", tern.mainlog())
    setup_pipe(tern, "  timeout = 1s\n  timeout_defer", script="sleep 30\n")
    msgid = submit(tern)
    assert msgid in tern.queue_ids()
    assert re.search(LOG_HEAD + re.escape(msgid) + r" == \|.*timed out",
                     tern.mainlog(), re.M), tern.mainlog()


def test_environment_path_and_use_shell(tern):
    # `command` overrides the alias's; found in `path`; run by the shell
    setup_pipe(tern, "  command = envdump ${uc:x} >@DIR@/out/env\n"
                     "  path = @DIR@/bin\n  use_shell\n"
                     "  environment = GREETING=hello : WHO=${lc:ME}",
               command='"|/bin/false"')
    tern.script("envdump", '#!/bin/sh\n/bin/cat >/dev/null\n'
                           'echo "arg=$1"\n/usr/bin/env\n')
    submit(tern)
    tern.wait_queue_empty()
    env = tern.path("out", "env").read_text()
    for want in ("arg=X", "GREETING=hello", "WHO=me", "LOCAL_PART=p",
                 "DOMAIN=test.example", f"PATH={tern.dir}/bin"):
        assert want in env.splitlines(), env


def test_ignore_status(tern):
    setup_pipe(tern, "  ignore_status", script="cat >/dev/null\nexit 1\n")
    msgid = submit(tern)
    tern.wait_queue_empty()
    assert tern.deliveries(msgid), tern.mainlog()
    assert not tern.path("mail", tern.user).exists()


def test_exec_failure_fails_or_freezes(tern):
    setup_pipe(tern, "", command='"|/nonexistent/prog"')
    submit(tern)
    tern.wait_queue_empty()
    _, text = bounce_text(tern)
    assert "/nonexistent/prog" in text
    setup_pipe(tern, "  freeze_exec_fail", command='"|/nonexistent/prog"')
    msgid = submit(tern)
    assert msgid in tern.queue_ids()
    assert "*** frozen ***" in tern.run(["-bp"]).stdout


def test_max_output_kills_the_command(tern):
    setup_pipe(tern, "  max_output = 1K\n  return_fail_output", script=
               "cat >/dev/null\nwhile :; do echo 0123456789abcdef; done\n")
    msgid = submit(tern)
    tern.wait_queue_empty()
    assert re.search(LOG_HEAD + re.escape(msgid) +
                     r" \*\* \|.*exceeded max_output", tern.mainlog(),
                     re.M), tern.mainlog()
    _, text = bounce_text(tern)
    assert "0123456789abcdef" in text


def test_log_output(tern):
    setup_pipe(tern, "  log_output",
               script="cat >/dev/null\necho 'first\tline'\necho second\n")
    msgid = submit(tern)
    tern.wait_queue_empty()
    assert re.search(LOG_HEAD + re.escape(msgid) + r" .*output of .*: "
                     r"first\\x09line$", tern.mainlog(), re.M), tern.mainlog()
    assert "second" not in tern.mainlog()
    assert tern.deliveries(msgid)

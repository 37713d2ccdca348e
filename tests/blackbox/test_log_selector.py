"""log_selector (docs/log.md): Exim's names for the optional parts of the
mainlog.  This file: the selectors the log itself applies (pid, millisec,
arguments) and the option's reading."""

import re
import subprocess

from tern_helpers import ID_RE


def submit(tern, to="alice@test.example"):
    r = tern.run(["-odq", "-i", to], input=b"Subject: a\n\nx\n",
                 prog="sendmail")
    assert r.returncode == 0, r
    return r


def test_defaults_write_no_pid_and_whole_seconds(tern):
    tern.config()
    submit(tern)
    line = [ln for ln in tern.mainlog().splitlines() if " <= " in ln][0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d " + ID_RE + " <= ",
                    line), line
    assert "args:" not in tern.mainlog()


def test_pid_and_millisec(tern):
    tern.config(main="log_selector = +pid +millisec\n")
    r = tern.popen(["-odq", "-i", "alice@test.example"], prog="sendmail",
                   stdin=subprocess.PIPE)
    r.communicate(b"Subject: a\n\nx\n", timeout=30)
    assert r.returncode == 0
    line = [ln for ln in tern.mainlog().splitlines() if " <= " in ln][0]
    m = re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(\d+)\] " +
                 ID_RE + " <= ", line)
    assert m, line
    # the pid is the process that wrote the line: sendmail itself here
    assert int(m.group(1)) == r.pid, (line, r.pid)


def test_arguments(tern):
    tern.config(main="log_selector = +arguments\n")
    r = tern.run(["-odq", "-i", "-F", "A Name", "-f", "", "alice@test.example"],
                 input=b"Subject: a\n\nx\n", prog="sendmail")
    assert r.returncode == 0, r
    lines = [ln for ln in tern.mainlog().splitlines() if " args: " in ln]
    assert len(lines) == 1, tern.mainlog()
    # the empty argument and the one with a space are quoted
    assert re.search(r" cwd=" + re.escape(str(tern.dir)) +
                     r' 10 args: \S*sendmail -C \S+ -odq -i -F "A Name" -f "" '
                     r"alice@test.example$", lines[0]), lines[0]


def test_later_setting_replaces_earlier(tern):
    tern.config(main="log_selector = +pid\nlog_selector = +millisec\n")
    r = tern.run(["-bP", "log_selector"])
    assert r.stdout.strip() == "log_selector = +millisec", r
    submit(tern)
    line = [ln for ln in tern.mainlog().splitlines() if " <= " in ln][0]
    assert re.match(r"\S+ \d\d:\d\d:\d\d\.\d{3} " + ID_RE + " <= ", line), line


def test_every_exim_name_is_accepted(tern):
    """An Exim administrator's log_selector loads: +all, and names of
    features Tern does not have."""
    tern.config(main="log_selector = +all -pid +dkim_verbose +spf -proxy "
                     "+tls_resumption +acl_warn_skipped\n")
    assert tern.run(["-bV"]).returncode == 0
    submit(tern)

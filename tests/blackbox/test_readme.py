"""The README's run command: tern on its embedded default configuration
answers on 127.0.0.1:2525 and delivers to a Maildir under ./var."""

import os
import re
import shutil
import signal
import subprocess

from tern_helpers import (IS_ROOT, PREFIX, REPO, SCALE, listening,
                          make_message, read_maildir, split_message, wait_for)


def default_args(tern, var, user):
    return ["-C", "@default", "-D", f"VARDIR={var}", "-D", f"TERN_USER={user}"]


def make_var(tern):
    var = tern.path("var")
    var.mkdir()
    tern.own(var)
    return var


def test_default_config_listens_on_2525_locally(tern):
    var = make_var(tern)
    args = default_args(tern, var, tern.user)
    r = tern.run(args + ["-bP", "daemon_smtp_ports"], conf=False).ok()
    assert re.fullmatch(r"daemon_smtp_ports = 2525", r.stdout.strip()), r
    r = tern.run(args + ["-bP", "local_interfaces"], conf=False).ok()
    assert "127.0.0.1" in r.stdout and "0.0.0.0" not in r.stdout, r
    r = tern.run(args + ["-bP", "spool_directory"], conf=False).ok()
    assert str(var) in r.stdout, r
    r = tern.run(args + ["-bP", "tern_user"], conf=False).ok()
    assert tern.user in r.stdout, r
    # "tern" when not given
    r = tern.run(["-C", "@default", "-D", f"VARDIR={var}", "-bP",
                  "tern_user"], conf=False).ok()
    assert re.search(r"=\s*tern\s*$", r.stdout), r


def test_default_config_delivers_to_maildir(tern):
    var = make_var(tern)
    tern.start_daemon(default_args(tern, var, tern.user) +
                      ["-oX", str(tern.port)], conf=False)
    rcpt = f"{tern.user}@localhost"
    body = b"Hello from the README test.\n"
    assert tern.send(rcpt, make_message(to=rcpt, subject="readme",
                                        body=body)) == {}
    maildir = var / "mail" / tern.user / "Maildir"
    wait_for(lambda: (maildir / "new").is_dir() and
             any((maildir / "new").iterdir()), 30, f"mail in {maildir}/new")
    (raw,) = read_maildir(maildir)
    hdrs, got = split_message(raw)
    assert got == body and hdrs["Subject"] == "readme"

    # the client the README suggests
    swaks = shutil.which("swaks")
    assert swaks, "swaks is not installed (scripts/test.sh installs it)"
    r = subprocess.run([swaks, "--server", f"127.0.0.1:{tern.port}",
                        "--to", rcpt, "--from", "swaks@example.net",
                        "--header", "Subject: via swaks",
                        "--body", "sent by swaks"],
                       capture_output=True, text=True, timeout=30 * SCALE)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: len(list((maildir / "new").iterdir())) == 2, 30,
             "the swaks message")
    subjects = sorted(split_message(m)[0]["Subject"]
                      for m in read_maildir(maildir))
    assert subjects == ["readme", "via swaks"]


def test_run_default_script(tern):
    """scripts/run-default.sh itself, with the build step skipped
    (TERN_PREFIX) and a free port instead of 2525 (TERN_PORT)."""
    script = REPO / "scripts" / "run-default.sh"
    assert os.access(script, os.X_OK), f"{script} is not executable"
    var = tern.path("var")
    env = tern.env({"TERN_PREFIX": str(PREFIX), "VARDIR": str(var),
                    "TERN_PORT": str(tern.port)})
    env["HOME"] = os.environ.get("HOME", "/root")
    out = open(tern.path("daemon.out"), "ab")
    # run as the test runner, as a user would run the README command
    p = subprocess.Popen([str(script)], cwd=REPO, env=env,
                         stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    tern.popens.append(p)
    tern.daemon = p

    def up():
        assert p.poll() is None, tern.path("daemon.out").read_text()
        return listening(tern.port)
    wait_for(up, 30, "run-default.sh to listen")
    me = "root" if IS_ROOT else tern.user
    rcpt = f"{me}@localhost"
    assert tern.send(rcpt, make_message(to=rcpt, subject="script")) == {}
    maildir = var / "mail" / me / "Maildir"
    wait_for(lambda: (maildir / "new").is_dir() and
             any((maildir / "new").iterdir()), 30, f"mail in {maildir}/new")
    (raw,) = read_maildir(maildir)
    assert split_message(raw)[0]["Subject"] == "script"
    printed = tern.path("daemon.out").read_text()
    assert str(tern.port) in printed and "Maildir" in printed, printed
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(15 * SCALE)

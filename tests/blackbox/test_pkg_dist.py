"""The system-MTA files in dist/: the default /etc/tern/tern.conf parses
and routes as documented, the systemd unit's command line runs a daemon
with a queue runner, logrotate rotates the files tern.conf logs to."""

import re

from tern_helpers import REPO, PREFIX

DIST = REPO / "dist"


def dist_conf(tern, main=""):
    """dist/tern.conf with its system paths moved into the test directory
    (and the test port), so that it can run unprivileged.  Drivers whose
    module source is not in this tree yet are the only thing removed:
    once plugins/<kind>/<driver> exists, its block must work unchanged."""
    text = (DIST / "tern.conf").read_text()
    missing = [d for d in sorted(set(re.findall(r"^\s+driver = (\w+)",
                                                text, re.M)))
               if not list(REPO.glob(f"plugins/*/{d}/CMakeLists.txt"))]
    for d in missing:
        text = re.sub(rf"^\w+:\n(?:  .*\n)*?  driver = {d}\n(?:  .*\n)*",
                      "", text, flags=re.M)
    text = (text.replace("/etc/aliases", str(tern.path("aliases")))
                .replace("/var/mail/", str(tern.path("mail")) + "/")
                .replace("/var/spool/tern", str(tern.spool))
                .replace("/var/log/tern", str(tern.logdir))
                .replace("daemon_smtp_ports = 25",
                         f"daemon_smtp_ports = {tern.port}")
                .replace("tern_user = tern", f"tern_user = {tern.user}"))
    tern.config(text + main)
    return missing


def test_default_conf_parses_as_shipped(tern):
    r = tern.run(["-C", DIST / "tern.conf", "-bP"], conf=False)
    missing = [d for d in ("forwardfile",)
               if not list(REPO.glob(f"plugins/*/{d}/CMakeLists.txt"))]
    if missing:
        # A driver the configuration names but no module provides is an
        # error (DESIGN.md): exactly that error, and nothing else.
        assert r.returncode != 0
        assert "forwardfile" in r.stderr and "module not found" in r.stderr, r
        return
    assert r.returncode == 0, r
    for want in ("tern_user = tern", "spool_directory = /var/spool/tern",
                 "log_file_path = /var/log/tern/%slog", "never_users = root"):
        assert re.search(rf"^{re.escape(want)}$", r.stdout, re.M), want


def test_default_conf_routes_aliases_users_and_root(tern):
    dist_conf(tern)
    tern.aliases((DIST / "aliases").read_text())
    r = tern.run(["-bP", "directors"]).ok()
    assert "system_aliases:" in r.stdout and "localuser:" in r.stdout
    r = tern.run(["-bt", "postmaster@localhost"]).ok()
    assert "root_mailbox" in r.stdout, r
    r = tern.run(["-bt", f"{tern.user}@localhost"]).ok()
    assert "local_delivery" in r.stdout, r
    r = tern.run(["-bt", "someone@elsewhere.example"])
    assert r.returncode != 0, "no router: remote mail is refused"


def test_commented_smarthost_works_when_uncommented(tern):
    text = (DIST / "tern.conf").read_text()
    for block in ("remote_smtp:", "smarthost:"):
        i = text.index(f"# {block}")
        j = text.index("\n\n", i)
        text = text[:i] + re.sub(r"^# ?", "", text[i:j], flags=re.M) + \
            text[j:]
    # the host named must resolve: an address stands in for it here
    text = text.replace("route_list = * smtp.example.net",
                        "route_list = * 127.0.0.1")
    (tern.dir / "uncommented.conf").write_text(text)
    r = tern.run(["-C", tern.dir / "uncommented.conf", "-bt",
                  "someone@elsewhere.example"], conf=False)
    assert r.returncode == 0, r
    assert "smarthost" in r.stdout and "remote_smtp" in r.stdout, r


def test_default_conf_delivers_to_var_mail(tern):
    dist_conf(tern)
    tern.aliases((DIST / "aliases").read_text())
    r = tern.run(["-odi", "-i", f"{tern.user}@localhost"],
                 input=b"Subject: dist\n\nhello from dist/tern.conf\n",
                 prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (raw,) = tern.mbox(tern.user)
    assert b"hello from dist/tern.conf" in raw


def test_unit_runs_daemon_with_queue_runner(tern):
    unit = (DIST / "tern.service").read_text()
    m = re.search(r"^ExecStart=/usr/sbin/tern (.*)$", unit, re.M)
    assert m, unit
    args = m.group(1).split()
    assert args == ["-bdf", "-q30m"]
    assert re.search(r"^ExecReload=.*-HUP \$MAINPID$", unit, re.M)
    dist_conf(tern)
    tern.start_daemon(args[1:])          # start_daemon adds -bdf
    tern.wait_for_log(r"daemon started: pid=\d+, -q30m, listening for SMTP")
    tern.wait_for_log(r"Start queue run: pid=\d+")
    assert tern.send(f"{tern.user}@localhost") == {}
    tern.wait_queue_empty()


def test_logrotate_covers_the_logs_tern_conf_names():
    conf = (DIST / "tern.conf").read_text()
    m = re.search(r"^log_file_path = (\S+)/%slog$", conf, re.M)
    assert m
    rot = (DIST / "tern.logrotate").read_text()
    for log in ("main", "reject", "panic"):
        assert f"{m.group(1)}/{log}log" in rot
    assert "create 0640 tern adm" in rot
    assert "postrotate" not in rot, "tern notices a renamed log by itself"

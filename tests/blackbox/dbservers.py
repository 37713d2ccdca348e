"""Real LDAP and MySQL servers for the black-box tests: a throwaway slapd
(mdb backend, core/cosine/inetorgperson schemas) and a throwaway MariaDB,
each in its own temporary directory on 127.0.0.1 and a free high port.
They can be stopped and started again (same data) to show what Tern does
when its lookup server is down."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tern_helpers import IS_ROOT, free_port, listening, wait_for

SCHEMAS = ("core", "cosine", "inetorgperson")


def _kill(proc, pidfile=None):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Slapd:
    """slapd -h ldap://127.0.0.1:PORT/ with a slapd.conf of its own.  Its
    log (loglevel stats: every search filter) is in self.logfile."""

    SUFFIX = "dc=isp,dc=test"
    ROOTDN = "cn=admin,dc=isp,dc=test"
    ROOTPW = "secret"

    def __init__(self, ldif=None):
        self.dir = Path(tempfile.mkdtemp(prefix="slapd-"))
        (self.dir / "db").mkdir()
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}/"
        self.logfile = self.dir / "slapd.log"
        self.proc = None
        conf = [f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS]
        conf += [
            f"pidfile {self.dir}/slapd.pid",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "loglevel stats",
            "database mdb",
            "maxsize 10485760",
            f'suffix "{self.SUFFIX}"',
            f'rootdn "{self.ROOTDN}"',
            f"rootpw {self.ROOTPW}",
            f"directory {self.dir}/db",
            "index objectClass,mail,uid,dc eq",
            "access to attrs=userPassword",
            '  by dn.exact="cn=tern,dc=isp,dc=test" read',
            "  by anonymous auth",
            "  by * none",
            "access to * by * read",
        ]
        (self.dir / "slapd.conf").write_text("\n".join(conf) + "\n")
        if ldif is not None:
            r = subprocess.run(["slapadd", "-f", str(self.dir / "slapd.conf"),
                                "-l", str(ldif)], capture_output=True)
            assert r.returncode == 0, r.stderr.decode()
        self.start()

    def start(self):
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            ["slapd", "-h", self.url, "-f", str(self.dir / "slapd.conf"),
             "-d", "256"], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        wait_for(lambda: listening(self.port) or self.proc.poll() is not None,
                 20, "slapd listening")
        assert self.proc.poll() is None, self.logfile.read_text()

    def stop(self):
        _kill(self.proc)
        self.proc = None

    def log(self):
        return self.logfile.read_text(errors="replace")

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MariaDB:
    """mariadbd on 127.0.0.1:PORT with a database `db` and a user `user`
    (password `password`) that may read it.  Every statement the server
    runs is in self.general_log."""

    def __init__(self, db="mail", user="tern", password="tern-pw"):
        self.dir = Path(tempfile.mkdtemp(prefix="mariadb-"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.socket = self.dir / "sock"
        self.general_log = self.dir / "general.log"
        self.db, self.user, self.password = db, user, password
        self.proc = None
        argv = ["mariadb-install-db", "--no-defaults",
                f"--datadir={self.dir}/data",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if IS_ROOT:
            argv.append("--user=root")
        r = subprocess.run(argv, capture_output=True)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        self.start()
        self.sql(f"CREATE DATABASE {db};"
                 f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY "
                 f"'{password}';"
                 f"GRANT SELECT ON {db}.* TO '{user}'@'127.0.0.1';")

    def start(self):
        argv = ["mariadbd", "--no-defaults", f"--datadir={self.dir}/data",
                f"--socket={self.socket}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--pid-file={self.dir}/pid",
                "--skip-name-resolve", "--innodb-buffer-pool-size=8M",
                "--innodb-log-file-size=4M", "--skip-log-bin",
                "--general-log=1", f"--general-log-file={self.general_log}",
                f"--log-error={self.dir}/error.log"]
        if IS_ROOT:
            argv.append("--user=root")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_for(lambda: listening(self.port) or self.proc.poll() is not None,
                 60, "mariadbd listening")
        assert self.proc.poll() is None, \
            (self.dir / "error.log").read_text(errors="replace")

    def stop(self):
        _kill(self.proc)
        self.proc = None

    def sql(self, text, db=None):
        argv = ["mariadb", "--no-defaults", f"--socket={self.socket}",
                "-uroot", "--batch", "--skip-column-names"]
        if db:
            argv.append(db)
        r = subprocess.run(argv, input=text.encode(), capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout.decode()

    def servers(self):
        """The mysql_servers item for this server (colon doubled)."""
        return f"127.0.0.1::{self.port}/{self.db}/{self.user}/{self.password}"

    def queries(self):
        try:
            return self.general_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

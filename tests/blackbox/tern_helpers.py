"""Helpers for Tern's black-box tests.

Everything here drives the *installed* tern ($TERN_PREFIX/bin/tern and its
sendmail/mailq/newaliases links) from the outside: configuration files in a
temporary directory, real SMTP clients, the spool and log files, /proc.

The Tern class is what the `tern` fixture (conftest.py) hands to a test.
"""

import email.parser
import email.policy
import email.utils
import mailbox
import os
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREFIX = Path(os.environ.get("TERN_PREFIX") or REPO / "build" / "stage")
def abi_version():
    """(major, minor) of the driver ABI, read from the installed SDK."""
    text = (PREFIX / "include" / "tern" / "module.h").read_text()
    major = int(re.search(r"#define TERN_ABI_MAJOR\s+(\d+)", text).group(1))
    minor = int(re.search(r"#define TERN_ABI_MINOR\s+(\d+)", text).group(1))
    return major, minor


TEST_MODULES = Path(os.environ.get("TERN_TEST_MODULES")
                    or REPO / "build" / "testmodules")
SANITIZE = os.environ.get("TERN_SANITIZE", "0").lower() in (
    "1", "on", "true", "yes")
IS_ROOT = os.geteuid() == 0
# Rootless mode: as root, every tern process runs as this unprivileged user;
# otherwise tern runs as whoever runs the tests.
TEST_USER = "terntest" if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name
# Sanitizer builds are slower: stretch every timeout.
SCALE = 4 if SANITIZE else 1

# Message ids: docs/spool.md, core/spool/id.c.
ID_RE = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{9}"
# A mainlog line: "YYYY-MM-DD HH:MM:SS [pid] ID text" (pid optional).
LOG_HEAD = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? (?:\[\d+\] )?"
SANITIZER_RE = re.compile(
    r"AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|"
    r"runtime error:")

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ---------------------------------------------------------------- configs

# The configuration most tests use: an Exim administrator should recognise
# every line.  @DIR@, @PORT@, @USER@ are filled in by Tern.config(); @MAIN@
# takes extra main options.  Domains:
#   test.example, localhost  aliases (file items in @DIR@/mail/NAME),
#                             then passwd users -> mbox @DIR@/mail/USER
#   maildir.example          passwd users -> Maildir @DIR@/maildir/USER
STANDARD_CONFIG = """\
# Tern black-box test configuration
primary_hostname = test.example
qualify_domain = test.example
local_domains = test.example : localhost : maildir.example
daemon_smtp_ports = @PORT@
local_interfaces = 127.0.0.1
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@
@MAIN@

begin transports

local_mbox:
  driver = appendfile
  file = @DIR@/mail/$local_part
  delivery_date_add
  envelope_to_add
  return_path_add

local_maildir:
  driver = appendfile
  directory = @DIR@/maildir/$local_part
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add

address_pipe:
  driver = pipe

address_file:
  driver = appendfile
  delivery_date_add
  envelope_to_add
  return_path_add

begin directors

system_aliases:
  driver = aliasfile
  file = @DIR@/aliases
  search_type = lsearch
  pipe_transport = address_pipe
  file_transport = address_file

maildir_user:
  driver = localuser
  domains = maildir.example
  transport = local_maildir

localuser:
  driver = localuser
  transport = local_mbox
"""

def standard_config_under(sub):
    """STANDARD_CONFIG with the spool and the Maildirs under @DIR@/sub
    (a file system mounted there)."""
    return (STANDARD_CONFIG
            .replace("spool_directory = @DIR@/spool",
                     f"spool_directory = @DIR@/{sub}/spool")
            .replace("directory = @DIR@/maildir/$local_part",
                     f"directory = @DIR@/{sub}/maildir/$local_part"))


# Mailbox names that are not passwd users are aliases to files.
# A pipe command that holds its delivery until $out/release exists: it
# writes "its pid, its parent's" to $out/started, and what it is given to
# $out/delivered.
SLOWPIPE = """#!/bin/sh
out="$1"
echo "$$ $PPID" > "$out/started.tmp" && mv "$out/started.tmp" "$out/started"
i=0
while [ ! -e "$out/release" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
cat >> "$out/delivered"
"""

STANDARD_ALIASES = """\
# test aliases (lsearch)
postmaster: @USER@
alice:   @DIR@/mail/alice
bob:     @DIR@/mail/bob
carol:   @DIR@/mail/carol
mallory: @DIR@/mail/mallory
"""


# ---------------------------------------------------------------- messages

def crlf(data):
    """Every line end as CRLF (bytes)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def make_message(to="alice@test.example", subject="test message",
                 body=b"Hello.\n", sender="sender@example.net",
                 headers=(), eol=b"\r\n"):
    """A complete RFC 5322 message as bytes; body is given with LF ends."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
             f"Message-ID: <{uuid.uuid4().hex}@client.example>",
             f"Date: {email.utils.formatdate()}"] + list(headers)
    head = "\n".join(lines).encode() + b"\n\n"
    msg = head + body
    return crlf(msg) if eol == b"\r\n" else msg


def split_message(raw):
    """(headers as email.message.Message, body bytes) of raw message bytes."""
    pos = raw.find(b"\n\n")
    assert pos >= 0, f"no header/body separator in {raw[:300]!r}"
    head, body = raw[:pos + 1], raw[pos + 2:]
    hdrs = email.parser.BytesHeaderParser(
        policy=email.policy.compat32).parsebytes(head + b"\n")
    return hdrs, body


def read_mbox(path):
    """Raw bytes (From_ line removed) of each message in an mbox, in order."""
    path = Path(path)
    assert path.is_file(), f"mbox {path} does not exist"
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_bytes(k) for k in sorted(box.keys())]
    finally:
        box.close()


def mbox_from_lines(path):
    """The text after "From " of each message's separator line."""
    box = mailbox.mbox(str(path), create=False)
    try:
        return [box.get_message(k).get_from() for k in sorted(box.keys())]
    finally:
        box.close()


def read_maildir(path, subdir="new"):
    """Raw bytes of each message in a Maildir, oldest first; asserts that
    every message is in `subdir` (new, for mail nobody has read)."""
    path = Path(path)
    for d in ("new", "cur", "tmp"):
        assert (path / d).is_dir(), f"Maildir {path} has no {d}/"
    box = mailbox.Maildir(str(path), factory=None, create=False)
    out = []
    for key in box.keys():
        msg = box.get_message(key)
        assert msg.get_subdir() == subdir, \
            f"message {key} is in {msg.get_subdir()}/, want {subdir}/"
        out.append((msg.get_date(), key, box.get_bytes(key)))
    assert not list((path / "tmp").iterdir()), \
        f"files left in {path}/tmp: {list((path / 'tmp').iterdir())}"
    return [raw for _, _, raw in sorted(out)]


# ---------------------------------------------------------------- processes

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Is something listening on TCP port `port` (IPv4 or IPv6)?"""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            continue
    return False


def wait_for(pred, timeout=10, what="condition", interval=0.01):
    """Poll pred() until it returns something true; return that value."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * SCALE}s "
                                 f"waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


def _stat(pid):
    """/proc/PID/stat as (comm, the fields after it), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return (data[data.index("(") + 1:data.rindex(")")],
            data[data.rindex(")") + 2:].split())


def proc_stat(pid):
    """(comm, state, ppid) of a process, or None if it is gone."""
    st = _stat(pid)
    return None if st is None else (st[0], st[1][0], int(st[1][1]))


def children(pid):
    """Live (non-zombie) child pids of pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[2] == pid and st[1] != "Z":
                out.append(int(d))
    return out


def proc_title(pid):
    """A process's command line as it shows it (tern sets its title)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def delivery_of(pid):
    """The delivery process above pid (a pipe command's parent): the
    outermost "tern: delivering" among its ancestors."""
    found = [p for p in ancestors(pid) if b"tern: delivering" in
             proc_title(p)]
    assert found, f"no delivery process above {pid}"
    return found[-1]


def session_of(pid):
    """(process group, session) of a process."""
    st = _stat(pid)
    assert st is not None, f"process {pid} is gone"
    return int(st[1][2]), int(st[1][3])


def ancestors(pid):
    """pid, its parent, grandparent ... up to (not including) pid 1."""
    out = []
    while pid > 1:
        st = proc_stat(pid)
        if st is None:
            break
        out.append(pid)
        pid = st[2]
    return out


def connection_holders(server_port, client_port):
    """Pids of the processes holding the server end of the TCP connection
    between a client on client_port and a server on server_port: the
    reception process that talks SMTP on it."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    lport = int(fields[1].rsplit(":", 1)[1], 16)
                    rport = int(fields[2].rsplit(":", 1)[1], 16)
                    if lport == server_port and rport == client_port:
                        inodes.add(f"socket:[{fields[9]}]")
        except FileNotFoundError:
            continue
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") in inodes:
                    pids.append(int(d))
                    break
            except OSError:
                continue
    return pids


def proc_ids(pid, which="Uid"):
    """(real, effective, saved, fs) Uid or Gid of a process from status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(which + ":"):
                return tuple(int(x) for x in line.split()[1:5])
    raise AssertionError(f"no {which}: line in /proc/{pid}/status")


def proc_maps(pid):
    """The file paths mapped into a process (from /proc/PID/maps)."""
    paths = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6:
                paths.add(parts[5].strip())
    return paths


def proc_exe(pid):
    try:
        return os.path.realpath(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def tern_exe():
    return os.path.realpath(PREFIX / "bin" / "tern")


def ensure_user(name, home=None):
    """The passwd entry of system user `name`, created if missing (root
    only): no home unless `home` is given, no login shell."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if not IS_ROOT:
        raise AssertionError(f"user {name} does not exist and only root "
                             "can create it")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, "--system", "--user-group", "--shell", "/usr/sbin/nologin"]
    if home:
        cmd += ["--create-home", "--home-dir", home]
    else:
        cmd += ["--no-create-home", "--home-dir", "/nonexistent"]
    r = subprocess.run(cmd + [name], capture_output=True, text=True)
    try:
        return pwd.getpwnam(name)   # also fine if a parallel run made it
    except KeyError:
        raise AssertionError(f"useradd {name} failed ({r.returncode}): "
                             f"{r.stderr}")


# ---------------------------------------------------------------- SMTP

class RawSMTP:
    """A hand-driven SMTP client for protocol edge cases."""

    def __init__(self, port, host="127.0.0.1", timeout=20, source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout * SCALE,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; partial {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, text) of one possibly multi-line reply; text lines are
        joined with newlines, without the codes."""
        lines = []
        while True:
            line = self._line()
            assert re.match(r"^\d{3}[ -]", line) or re.match(r"^\d{3}$", line), \
                f"malformed reply line {line!r}"
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line, code):
        got = self.cmd(line)
        assert got[0] == code, f"{line!r}: got {got}, want {code}"
        return got

    def pending(self, wait=0.3):
        """Anything the server sent unasked within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = b""
        finally:
            self.sock.settimeout(20 * SCALE)
        return self.buf + data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PipeSMTP(RawSMTP):
    """The same client talking to `tern -bs` over its stdin/stdout."""

    def __init__(self, popen, timeout=20):
        self.p = popen
        self.timeout = timeout * SCALE
        self.buf = b""
        self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _line(self):
        fd = self.p.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            if not r:
                raise AssertionError(f"tern -bs: no reply within "
                                     f"{self.timeout}s; partial {self.buf!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"tern -bs closed stdout; partial {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass


# ---------------------------------------------------------------- results

class Result:
    """What a tern command did: returncode, stdout, stderr (text; raw bytes
    in .out)."""

    def __init__(self, argv, returncode, out, err):
        self.argv = argv
        self.returncode = returncode
        self.out = out
        self.stdout = out.decode("utf-8", "replace")
        self.stderr = err.decode("utf-8", "replace")

    def __repr__(self):
        return (f"<{' '.join(map(str, self.argv))}: exit {self.returncode}\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}>")

    def ok(self):
        assert self.returncode == 0, f"command failed: {self!r}"
        return self


# ---------------------------------------------------------------- Tern

class Tern:
    """One Tern instance: a temporary directory with its configuration,
    spool, logs and mailboxes, the processes started for it, and the
    clients that talk to it."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.user = TEST_USER
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.port = free_port()
        self.conf = self.dir / "tern.conf"
        self.spool = self.dir / "spool"
        self.logdir = self.dir / "log"
        self.sandir = self.dir / "sanitizer"
        self.daemon = None
        self.popens = []
        # Every tern command runs under this (e.g. in a namespace: the
        # argv that follows is its command) with these variables added.
        self.wrap = []
        self.extra_env = {}
        for sub in ("log", "mail", "maildir", "bin", "out"):
            (self.dir / sub).mkdir()
        self.sandir.mkdir(mode=0o1777)
        os.chmod(self.sandir, 0o1777)
        os.chmod(self.dir, 0o755)
        self.own(self.dir, recursive=True)

    # ---- files

    def path(self, *parts):
        return self.dir.joinpath(*parts)

    def own(self, path, recursive=False, uid=None, gid=None):
        """Give path to the user tern runs as (no-op when not root)."""
        if not IS_ROOT:
            return
        uid = self.uid if uid is None else uid
        gid = self.gid if gid is None else gid
        os.chown(path, uid, gid)
        if recursive:
            for root, dirs, files in os.walk(path):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), uid, gid,
                             follow_symlinks=False)

    def subst(self, text, main=""):
        return (text.replace("@MAIN@", main)
                    .replace("@DIR@", str(self.dir))
                    .replace("@PORT@", str(self.port))
                    .replace("@USER@", self.user)
                    .replace("@PREFIX@", str(PREFIX)))

    def write(self, rel, content, mode=0o644):
        """Write a file under the test directory (str content gets @DIR@ &c
        substituted), owned by the tern user."""
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = self.subst(content).encode()
        p.write_bytes(content)
        os.chmod(p, mode)
        self.own(p)
        return p

    def config(self, text=None, main="", aliases=None):
        """Write tern.conf (STANDARD_CONFIG unless text is given; `main` is
        added to the main section) and the aliases file (STANDARD_ALIASES
        unless given, or already written).  Returns the config path."""
        body = self.subst(STANDARD_CONFIG if text is None else text, main)
        self.conf.write_text(body)
        os.chmod(self.conf, 0o644)
        self.own(self.conf)
        if aliases is not None or not self.path("aliases").exists():
            self.aliases(STANDARD_ALIASES if aliases is None else aliases)
        return self.conf

    def config_line(self, needle):
        """1-based line number of the first config line containing needle."""
        for n, line in enumerate(self.conf.read_text().splitlines(), 1):
            if needle in line:
                return n
        raise AssertionError(f"{needle!r} not in {self.conf}")

    def aliases(self, text):
        return self.write("aliases", text)

    def script(self, name, text):
        """An executable helper (e.g. a pipe command) in @DIR@/bin."""
        return self.write(f"bin/{name}", text, mode=0o755)

    # ---- commands

    def env(self, extra=None):
        env = {"PATH": PATH_ENV, "LANG": "C", "HOME": str(self.dir),
               "USER": self.user, "LOGNAME": self.user,
               "TERN_TEST_DIR": str(self.dir)}
        if SANITIZE:
            env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=1:"
                                   f"log_path={self.sandir}/asan")
            env["UBSAN_OPTIONS"] = ("halt_on_error=1:print_stacktrace=1:"
                                    f"log_path={self.sandir}/ubsan")
        env.update(self.extra_env)
        if extra:
            env.update(extra)
        return env

    def argv(self, args, prog="tern", conf=True, as_user=True):
        argv = [str(PREFIX / "bin" / prog)]
        if conf:
            argv += ["-C", str(self.conf)]
        argv += [str(a) for a in args]
        if as_user and IS_ROOT:
            argv = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}",
                    "--init-groups", "--"] + argv
        return self.wrap + argv

    def run(self, args=(), input=None, prog="tern", conf=True, as_user=True,
            timeout=60, env=None):
        """Run tern (or sendmail, mailq ...) to completion.  stdout and
        stderr go to files, so that a background child that keeps them open
        cannot make us wait for it."""
        argv = self.argv(args, prog, conf, as_user)
        if isinstance(input, str):
            input = input.encode()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,
                                 stderr=err, env=self.env(env), cwd=self.dir,
                                 start_new_session=True)
            self.popens.append(p)
            try:
                p.communicate(input or b"", timeout=timeout * SCALE)
            except subprocess.TimeoutExpired:
                self._killpg(p.pid)
                p.wait()
                out.seek(0)
                err.seek(0)
                raise AssertionError(
                    f"{' '.join(argv)} still running after "
                    f"{timeout * SCALE}s\nstdout: {out.read()!r}\n"
                    f"stderr: {err.read()!r}")
            out.seek(0)
            err.seek(0)
            return Result(argv, p.returncode, out.read(), err.read())

    def popen(self, args, prog="tern", conf=True, as_user=True, env=None,
              **kw):
        """Start tern without waiting (its own session, killed at cleanup)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(args, prog, conf, as_user),
                             env=self.env(env), cwd=self.dir,
                             start_new_session=True, **kw)
        self.popens.append(p)
        return p

    def start_daemon(self, args=(), as_user=True, conf=True, port=None,
                     env=None):
        """tern -bdf [args] in the background; returns once it listens."""
        port = port or self.port
        out = open(self.path("daemon.out"), "ab")
        p = self.popen(["-bdf", *args], conf=conf, as_user=as_user, env=env,
                       stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.daemon = p

        def up():
            if p.poll() is not None:
                raise AssertionError(
                    f"daemon exited with {p.returncode}:\n"
                    f"{self.path('daemon.out').read_text(errors='replace')}")
            return listening(port)
        wait_for(up, 20, f"the daemon to listen on port {port}")
        return p

    def stop(self, timeout=15):
        """SIGTERM the daemon and wait for it."""
        p = self.daemon
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            self._killpg(p.pid)
            p.wait()
            raise AssertionError("the daemon ignored SIGTERM")

    @staticmethod
    def _killpg(pgid, sig=signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def delivering(self):
        """Pids of this instance's delivery processes ("tern: delivering")."""
        out = []
        for pid in self.processes():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(b"tern: delivering"):
                        out.append(pid)
            except OSError:
                continue
        return out

    def processes(self):
        """Pids of the processes of this instance: tern processes whose
        environment or command line names our directory, and any other
        process whose command line does (pipe commands in @DIR@/bin)."""
        me = set(ancestors(os.getpid()))
        marker = f"TERN_TEST_DIR={self.dir}".encode()
        dirb = str(self.dir).encode()
        exe = tern_exe()
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in me:
                continue
            pid = int(d)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                if dirb in cmdline:
                    out.append(pid)
                    continue
                if proc_exe(pid) != exe:
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        out.append(pid)
            except OSError:
                continue
        return [p for p in out if (proc_stat(p) or ("", "Z"))[1] != "Z"]

    def kill_all(self):
        """SIGKILL everything this instance started (cleanup)."""
        for p in self.popens:
            self._killpg(p.pid)
        for _ in range(3):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        for p in self.popens:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass

    # ---- SMTP clients

    def smtp(self, port=None, helo="client.example"):
        """A connected smtplib.SMTP that has said EHLO."""
        s = smtplib.SMTP("127.0.0.1", port or self.port, timeout=30 * SCALE)
        s.ehlo(helo)
        return s

    def raw(self, port=None):
        return RawSMTP(port or self.port)

    def send(self, to, msg=None, sender="sender@example.net", port=None,
             mail_options=(), **kw):
        """Send one message over SMTP; returns smtplib's refused dict."""
        if isinstance(to, str):
            to = [to]
        if msg is None:
            msg = make_message(to=", ".join(to), sender=sender, **kw)
        with self.smtp(port) as s:
            return s.sendmail(sender, to, msg, mail_options=list(mail_options))

    # ---- spool and logs

    def queue_ids(self):
        """Ids of the messages in spool/input (any depth): the committed
        ID-M files (docs/spool.md; a reception in progress is not one);
        and those parked in spool/pool, which their reception is
        delivering (docs/spool.md, "Parked messages")."""
        ids = []
        inp = self.spool / "input"
        if inp.is_dir():
            for root, _, files in os.walk(inp):
                ids += [f[:-2] for f in files
                        if re.fullmatch(ID_RE + "-M", f) and
                        spool_committed(os.path.join(root, f))]
        return sorted(ids + self.parked_ids())

    def parked_ids(self):
        """Ids of the committed messages in spool/pool (parked)."""
        ids = []
        pool = self.spool / "pool"
        if pool.is_dir():
            for f in os.listdir(pool):
                p = pool / f
                if f.startswith(".") or not spool_committed(p):
                    continue
                try:
                    with open(p, "rb") as fh:
                        first = fh.read(23)
                except FileNotFoundError:
                    continue  # named (to input/) meanwhile
                if re.fullmatch(ID_RE.encode(), first):
                    ids.append(first.decode())
        return ids

    def wait_queue_empty(self, timeout=30):
        try:
            wait_for(lambda: not self.queue_ids(), timeout,
                     "the spool to empty")
            # A delivery logs "Completed" after it removes the spool file
            # (as Exim does: the line says the removal is done), so wait
            # for the delivery processes to end as well.
            wait_for(lambda: not self.delivering(), timeout,
                     "the delivery processes to end")
        except AssertionError as e:
            q = self.run(["-bp"])
            raise AssertionError(f"{e}\nmailq:\n{q.stdout}{q.stderr}\n"
                                 f"mainlog:\n{self.mainlog()}") from None

    def log(self, which="main"):
        p = self.logdir / f"{which}log"
        try:
            return p.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def mainlog(self):
        return self.log("main")

    def rejectlog(self):
        return self.log("reject")

    def paniclog(self):
        return self.log("panic")

    def wait_for_log(self, pattern, timeout=20, which="main"):
        """Wait until the log has a line matching regex pattern (re.M);
        returns the match."""
        rx = re.compile(pattern, re.M)
        try:
            return wait_for(lambda: rx.search(self.log(which)), timeout,
                            f"/{pattern}/ in {which}log")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{which}log:\n{self.log(which)}") \
                from None

    def log_lines(self, msgid, which="main"):
        return [l for l in self.log(which).splitlines()
                if re.match(LOG_HEAD + re.escape(msgid) + " ", l)]

    def arrivals(self):
        """Message ids of the "<=" lines, in log order."""
        return re.findall(LOG_HEAD + "(" + ID_RE + r") <= ", self.mainlog(),
                          re.M)

    def deliveries(self, msgid):
        """The "=>" and "->" lines of one message."""
        return [l for l in self.log_lines(msgid)
                if re.search(" " + re.escape(msgid) + r" (=>|->) ", l)]

    def wait_completed(self, msgid, timeout=30):
        return self.wait_for_log(LOG_HEAD + re.escape(msgid) + " Completed",
                                 timeout)

    # ---- mailboxes

    def mbox(self, name):
        return read_mbox(self.path("mail", name))

    def wait_mbox(self, name, count=1, timeout=20):
        """Wait until mailbox `name` holds `count` whole messages (the
        file appears before a delivery has finished writing it)."""
        wait_for(lambda: self.path("mail", name).exists()
                 and len(self.mbox(name)) >= count, timeout,
                 f"{count} message(s) in mailbox {name}")
        return self.mbox(name)

    def maildir(self, name):
        return read_maildir(self.path("maildir", name))

    # ---- health

    def sanitizer_reports(self):
        """Text of every sanitizer report this instance produced."""
        found = []
        if self.sandir.is_dir():
            for f in sorted(self.sandir.iterdir()):
                found.append(f"{f}:\n{f.read_text(errors='replace')}")
        panic = self.paniclog()
        if SANITIZER_RE.search(panic):
            found.append(f"paniclog:\n{panic}")
        return "\n".join(found)

    def describe(self):
        """Logs and state, for a failing test's report."""
        parts = [f"test directory: {self.dir}"]
        for which in ("main", "reject", "panic"):
            text = self.log(which)
            if text:
                parts.append(f"--- {which}log\n{text[-20000:]}")
        d = self.path("daemon.out")
        if d.exists() and d.stat().st_size:
            parts.append("--- daemon output\n" +
                         d.read_text(errors="replace")[-10000:])
        parts.append(f"--- spool ids: {self.queue_ids()}")
        return "\n".join(parts)


# ---------------------------------------------------------------- TLS

def make_cert(directory, cn="test.example", name=None):
    """A self-signed EC certificate and key for cn in directory, made with
    the openssl command: (cert path, key path), readable by tern."""
    directory = Path(directory)
    name = name or cn
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"],
        capture_output=True, text=True)
    assert r.returncode == 0, f"openssl req failed: {r.stderr}"
    for p in (cert, key):
        os.chmod(p, 0o644)
        if IS_ROOT:
            pw = pwd.getpwnam(TEST_USER)
            os.chown(p, pw.pw_uid, pw.pw_gid)
    return cert, key


def tls_client_context():
    """An ssl context that accepts any server certificate (tests use
    self-signed ones)."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def non_loopback_address():
    """An IPv4 address of this machine that is not in 127.0.0.0/8, or
    None (read from /proc/net/fib_trie: the LOCAL routes)."""
    try:
        text = Path("/proc/net/fib_trie").read_text()
    except OSError:
        return None
    last = None
    for line in text.splitlines():
        m = re.search(r"\|-- (\d+\.\d+\.\d+\.\d+)", line)
        if m:
            last = m.group(1)
        elif "/32 host LOCAL" in line and last and \
                not last.startswith("127."):
            return last
    return None


def spool_committed(path):
    """Is the spool file at path a complete message?  Its first line is
    "ID-M <16 hex digits>", the offset of the header section, all zeros
    while the message is being received (docs/spool.md)."""
    try:
        with open(path, "rb") as f:
            first = f.read(43)
    except FileNotFoundError:
        return False
    return len(first) == 43 and first[-1:] == b"\n" and \
        first[26:42] != b"0" * 16


def spool_reseal(path):
    """Write the check record of the spool file at path anew, after a test
    changed its content by hand: "C " and the first 16 bytes of the
    SHA-256 of the file from byte 43 to the end of the header section's end
    line, or to byte 65,536 (docs/spool.md)."""
    import hashlib
    data = bytearray(Path(path).read_bytes())
    first, body, head, rest = spool_sections(path)
    end = 43 + len(body) + len(head) + 2
    assert data[end:end + 2] == b"C ", data[end:end + 40]
    digest = hashlib.sha256(bytes(data[43:min(end, 65536)])).hexdigest()
    data[end + 2:end + 34] = digest[:32].encode()
    Path(path).write_bytes(bytes(data))


def spool_sections(path):
    """(first line, body, header section, records) of the spool file at
    path, as bytes (docs/spool.md)."""
    with open(path, "rb") as f:
        data = f.read()
    off = int(data[26:42], 16)
    head = data[off:]
    # the header section ends with the line "." after the header entries
    i = head.index(b"\n\n") + 2
    while not head.startswith(b".\n", i):
        j = i
        while head[j:j + 1].isdigit():
            j += 1
        i = j + 2 + int(head[i:j])
    return data[:43], data[43:off], head[:i], head[i + 2:]


# ---------------------------------------------------------------- processes

def strace_daemon_pid(pid, out, args):
    """strace -f (args: what to trace) into out on daemon pid and on its
    spare reception process (docs/process.md), which takes the next
    connection and was forked before; returns the strace process once it
    is attached, and the spares' pids.  An idle daemon has one: it is
    waited for (the daemon forks it once it listens)."""
    spares = wait_for(lambda: spares_of(pid), 10,
                      "the daemon's spare reception process")
    pids = [pid, *spares]
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", str(out), *args,
                           *[x for p in pids for x in ("-p", str(p))]],
                          stderr=subprocess.DEVNULL)

    # strace prints nothing when attached with -qq: wait until each is
    # traced (TracerPid in its status).
    def traced():
        return all(re.search(r"^TracerPid:\s+[1-9]",
                             Path(f"/proc/{p}/status").read_text(), re.M)
                   for p in pids)
    wait_for(traced, 20, "strace to attach")
    return st, spares


def traced_processes(tern, daemon, rcpts, sender="sender@example.net",
                     also=""):
    """Send one message to rcpts while strace follows the daemon and its
    children; return [(pid, call, text)] for process creation, uid
    changes and opens (and the calls in also: ",name,..."), and the
    message id."""
    out = tern.path("out", "procs.txt")
    st, spares = strace_daemon_pid(daemon.pid, out, [
        "-s", "200", "-e", "trace=clone,clone3,fork,vfork,setresuid,openat,"
        "accept4" + also])
    try:
        assert tern.send(rcpts, make_message(to=", ".join(rcpts)),
                         sender=sender) == {}
        tern.wait_queue_empty()
        tern.wait_for_log(r"Completed")
    finally:
        st.terminate()
        st.wait()
    waiting = spares_of(daemon.pid)  # the next connection's
    (msgid,) = re.findall(r"^\S+ \S+ (\S+) <= (?!<>)", tern.mainlog(), re.M)
    calls, open_calls = [], {}
    for line in out.read_text(errors="replace").splitlines():
        m = re.match(r"(\d+)\s+(\w+)\((.*)$", line)
        if m:
            calls.append([m.group(1), m.group(2), m.group(3)])
            if m.group(3).endswith(" <unfinished ...>"):
                open_calls[m.group(1)] = len(calls) - 1
            continue
        # another process's line came between a call and its result
        m = re.match(r"(\d+)\s+<\.\.\. \w+ resumed>(.*)$", line)
        if m and m.group(1) in open_calls:
            c = calls[open_calls.pop(m.group(1))]
            c[2] = c[2][:-len(" <unfinished ...>")] + m.group(2)
    calls = [tuple(c) for c in calls]
    return as_forked_for_the_message(calls, daemon.pid, spares,
                                     waiting), msgid


def as_forked_for_the_message(calls, daemon_pid, before, after):
    """The trace as the processes made for the message: the daemon's
    spare reception process (docs/process.md) that took the connection,
    forked before the trace began (one of `before`), shown as forked by
    the daemon first; the spare forked for the next connection (one of
    `after`, still waiting when the trace ended) left out, with all its
    calls."""
    took = [p for p, c, a in calls if c == "accept4" and p in map(str, before)
            and re.search(r"= \d+$", a)]
    spares = set(map(str, after)) - set(took)
    out = [(str(daemon_pid), "clone", f"(the spare, before the trace) = {p}")
           for p in took[:1]]
    for p, c, a in calls:
        if p in spares or c == "accept4":
            continue
        if c in ("clone", "clone3", "fork", "vfork") and \
                a.rsplit("= ", 1)[-1].strip() in spares:
            continue
        out.append((p, c, a))
    return out


def spares_of(pid):
    """The spare reception processes among pid's children."""
    return [c for c in children(pid)
            if proc_title(c).startswith(b"tern: spare reception process")]


def forks(calls):
    return [c for c in calls if c[1] in ("clone", "clone3", "fork", "vfork")
            and "CLONE_THREAD" not in c[2]]


class LoopFs:
    """A file system of type `fstype` in image file `img` (sparse), on a
    loop device at `mnt` (created), owned by `owner` (uid, gid): ext4
    (64 MiB, with a journal), xfs (320 MiB, mkfs.xfs's minimum is 300)
    or btrfs (256 MiB).  Needs root."""

    MKFS = {
        "ext4": (64, ["mkfs.ext4", "-q", "-F", "-O", "has_journal"]),
        "xfs": (320, ["mkfs.xfs", "-q", "-f"]),
        "btrfs": (256, ["mkfs.btrfs", "-q", "-f"]),
    }

    def __init__(self, img, mnt, owner, opts="loop", fstype="ext4"):
        if not IS_ROOT:
            raise AssertionError("needs root to mount a file system "
                                 "(CI is root)")
        self.img, self.mnt, self.owner, self.opts = img, Path(mnt), owner, opts
        self.fstype = fstype
        size, mkfs = self.MKFS[fstype]
        with open(img, "wb") as f:
            f.truncate(size << 20)
        r = subprocess.run([*mkfs, str(img)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise AssertionError(f"{mkfs[0]} failed: {r.stderr}")
        self.mnt.mkdir(exist_ok=True)
        self.mount()

    def mount(self):
        subprocess.run(["mount", "-o", self.opts, str(self.img),
                        str(self.mnt)], check=True)
        os.chown(self.mnt, *self.owner)
        os.chmod(self.mnt, 0o755)

    def umount(self, check=True):
        """Unmount, retrying while a dying process still holds it; at
        cleanup (check=False), lazily as a last resort."""
        for _ in range(50):
            if subprocess.run(["umount", str(self.mnt)],
                              stderr=subprocess.DEVNULL).returncode == 0:
                return
            if not os.path.ismount(self.mnt):
                return
            time.sleep(0.1)
        if check:
            raise AssertionError(f"cannot unmount {self.mnt}")
        subprocess.run(["umount", "-l", str(self.mnt)], check=False)


def LoopExt4(img, mnt, owner, opts="loop"):
    """A journaled ext4 of 64 MiB (LoopFs)."""
    return LoopFs(img, mnt, owner, opts)

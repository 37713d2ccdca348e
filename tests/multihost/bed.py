"""The multi-host test bed (issue 10, point 3): several hosts on one
machine, each in its own network namespace.

Topology: a "switch" namespace holds a bridge; every host namespace gets
one veth pair, `eth0` on the host side, its peer on the bridge.  The
hosts' addresses are in 198.18.0.0/24 (RFC 2544's benchmarking range),
which exists only inside namespaces the bed made: nothing is added to the
machine's own network namespace, so nothing can be routed outside.

Each host's resolver is the bed's DNS server (unbound, in its own
namespace): `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over
/etc/resolv.conf, the standard iproute2 mechanism, so a Tern started with
an unmodified example configuration uses it.

Bed.directory(ldif) starts slapd on host `ldap` (the slapd.conf of
tests/blackbox/dbservers.py, data loaded with slapadd), the directory the
front ends share with examples/front-end.conf -DUSE_LDAP.

Everything the bed made is torn down by Bed.close(): processes (every
pid in the bed's namespaces is ours), namespaces (which takes the veths
and the bridge with them) and the /etc/netns/NS directories.  Stale
namespaces of an earlier run that died (prefix tmh<PID>- with PID gone)
are removed when a new bed starts.
"""

import ctypes
import os
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "blackbox"))

from tern_helpers import (IS_ROOT, PREFIX, SCALE, Tern,  # noqa: E402
                          make_message, wait_for)
from dbservers import Slapd  # noqa: E402

REPO = HERE.parents[1]
EXAMPLES = REPO / "examples"
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
NET = "198.18.0"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*argv, check=True):
    r = subprocess.run([str(a) for a in argv], capture_output=True,
                       text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}: {r.returncode}\n"
                             f"{r.stdout}{r.stderr}")
    return r


def in_netns(ns, fn, *args, **kw):
    """Run fn in a thread that has joined network namespace ns (setns is
    per thread for network namespaces); return its value or raise its
    exception.  Sockets it makes stay in that namespace."""
    out = {}

    def run():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {ns}: {os.strerror(e)}")
            finally:
                os.close(fd)
            out["v"] = fn(*args, **kw)
        except BaseException as e:   # handed to the caller
            out["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["v"]


def listening_in(pid, port):
    """Does the network namespace of process pid have a TCP listener on
    port?  (/proc/PID/net is the namespace of that process.)"""
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and \
                            int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except (FileNotFoundError, ProcessLookupError):
            continue
    return False


def dns_query(ip, name, qtype=15, port=53):
    """One UDP query; (rcode, answer count) or None on timeout."""
    head = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) \
        + b"\0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(head + q + struct.pack(">HH", qtype, 1), (ip, port))
        try:
            data = s.recv(4096)
        except socket.timeout:
            return None
    return data[3] & 0x0F, struct.unpack(">H", data[6:8])[0]


class Host:
    """One namespace with one address."""

    def __init__(self, bed, name, ip):
        self.bed, self.name, self.ip = bed, name, ip
        self.ns = f"{bed.prefix}{name}"

    def run(self, *argv, check=True):
        return sh("ip", "netns", "exec", self.ns, *argv, check=check)

    def call(self, fn, *args, **kw):
        return in_netns(self.ns, fn, *args, **kw)


class BedTern(Tern):
    """A Tern instance running inside a host's namespace: every command
    is `ip netns exec NS setpriv ... tern ...`; it listens on port 25 of
    the host's address."""

    def __init__(self, directory, host):
        super().__init__(directory)
        self.host = host
        self.ip = host.ip
        self.port = 25
        self.example = None
        self.defs = {}

    def use_example(self, name, **defs):
        """Run examples/NAME unchanged, its site values given with -D."""
        self.example = EXAMPLES / name
        self.defs = {"SPOOL_DIR": self.spool,
                     "LOG_PATH": f"{self.logdir}/%slog",
                     "TERN_USER": self.user, "SMTP_PORTS": 25,
                     "INTERFACES": self.ip, "REMOTE_PORT": 25, **defs}
        self.conf = self.example

    def argv(self, args, prog="tern", conf=True, as_user=True):
        if conf and self.example is not None:
            args = [a for k, v in self.defs.items()
                    for a in ("-D", f"{k}={v}")] + list(args)
        return ["ip", "netns", "exec", self.host.ns] + \
            super().argv(args, prog, conf, as_user)

    def start_daemon(self, args=(), as_user=True, conf=True, port=None,
                     env=None):
        out = open(self.path("daemon.out"), "ab")
        p = self.popen(["-bdf", *args], conf=conf, as_user=as_user,
                       env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.daemon = p

        def up():
            if p.poll() is not None:
                raise AssertionError(
                    f"{self.host.name}: daemon exited with {p.returncode}:"
                    f"\n{self.path('daemon.out').read_text(errors='replace')}")
            return listening_in(p.pid, self.port)
        wait_for(up, 20, f"{self.host.name} to listen on port 25")
        return p

    def kill_daemon(self):
        """SIGKILL the daemon: the host is down."""
        self._killpg(self.daemon.pid)
        self.daemon.wait(10)

    def smtp(self, port=None, helo="client.bed.test"):
        raise AssertionError("use bed.send() from the client namespace")


class BedSlapd(Slapd):
    """tests/blackbox/dbservers.py's slapd (same slapd.conf, schemas and
    access rules, data loaded with slapadd), started in a host's
    namespace on ldap://IP:389/."""

    def __init__(self, host, ldif):
        self.host = host
        super().__init__(ldif)

    def start(self):
        self.port = 389
        self.url = f"ldap://{self.host.ip}:389/"
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.host.ns, "slapd", "-h", self.url,
             "-f", str(self.dir / "slapd.conf"), "-d", "256"], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("slapd exited: " + self.log())
            return listening_in(self.proc.pid, 389)
        wait_for(up, 20, "slapd to listen in the bed")

    def modify(self, ldif, op="ldapadd"):
        """ldapadd/ldapmodify/ldapdelete as the rootdn, from the
        directory's own host (over the bed's network)."""
        r = subprocess.run(["ip", "netns", "exec", self.host.ns, op, "-x",
                            "-H", self.url, "-D", self.ROOTDN, "-w",
                            self.ROOTPW], input=ldif, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        return r


class Bed:
    """Hosts: dns (.2), ldap (.5), fe1 (.10), fe2 (.11), retry (.20),
    backup (.30), dest1 (.41), dest2 (.42), client (.100), all on one
    bridge."""

    HOSTS = {"dns": 2, "ldap": 5, "fe1": 10, "fe2": 11, "retry": 20,
             "backup": 30, "dest1": 41, "dest2": 42, "client": 100}
    # served.test: the domain the front ends serve (their mailstore is
    # dest1), MX 10 fe1, fe2 and MX 20 backup.  far.test: somebody else's
    # domain, MX 10 dest2, reached by the front ends' dnslookup router.
    ZONE = f"""
served.test.        MX 10 fe1.bed.test.
served.test.        MX 10 fe2.bed.test.
served.test.        MX 20 backup.bed.test.
far.test.           MX 10 dest2.bed.test.
"""

    def __init__(self, directory):
        if not IS_ROOT:
            raise RuntimeError("the multi-host bed needs root")
        self.dir = Path(directory)
        self.prefix = f"tmh{os.getpid()}-"
        self.hosts = {n: Host(self, n, f"{NET}.{i}")
                      for n, i in self.HOSTS.items()}
        self.switch = f"{self.prefix}sw"
        self.terns = []
        self.procs = []
        self.made = []
        self.mounts = []
        self.unbound = None
        self.slapd = None
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name):
        return self.hosts[name]

    # ---- building

    @staticmethod
    def reap_stale():
        """Remove the namespaces of earlier beds whose process is gone."""
        r = sh("ip", "netns", "list", check=False)
        for line in r.stdout.splitlines():
            m = re.match(r"(tmh(\d+)-\S+)", line)
            if m and not Path(f"/proc/{m.group(2)}").exists():
                _kill_ns_pids(m.group(1))
                sh("ip", "netns", "del", m.group(1), check=False)
                shutil.rmtree(f"/etc/netns/{m.group(1)}", ignore_errors=True)

    def _addns(self, ns):
        sh("ip", "netns", "add", ns)
        self.made.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _build(self):
        self.reap_stale()
        self._addns(self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        for h in self.hosts.values():
            self._addns(h.ns)
            veth = f"v-{h.name}"
            sh("ip", "-n", self.switch, "link", "add", veth, "type", "veth",
               "peer", "name", "eth0", "netns", h.ns)
            sh("ip", "-n", self.switch, "link", "set", veth, "master", "br0")
            sh("ip", "-n", self.switch, "link", "set", veth, "up")
            sh("ip", "-n", h.ns, "addr", "add", f"{h.ip}/24", "dev", "eth0")
            sh("ip", "-n", h.ns, "link", "set", "eth0", "up")
            # Port 25 for the unprivileged tern user, in this namespace only.
            h.run("sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0")
            etc = Path("/etc/netns") / h.ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(
                f"nameserver {self['dns'].ip}\noptions timeout:1 attempts:2\n")
        self._start_dns()

    def _start_dns(self):
        h = self["dns"]
        d = self.dir / "dns"
        d.mkdir(parents=True, exist_ok=True)
        zone = self.ZONE + "".join(
            f"{n}.bed.test. A {x.ip}\n" for n, x in self.hosts.items())
        data = "\n".join(f'  local-data: "{" ".join(l.split())}"'
                         for l in zone.splitlines() if l.strip())
        conf = d / "unbound.conf"
        conf.write_text(f"""server:
  interface: {h.ip}
  port: 53
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "{d}"
  pidfile: ""
  access-control: {NET}.0/24 allow
  do-not-query-localhost: no
  module-config: "iterator"
  local-zone: "bed.test." static
  local-zone: "served.test." static
  local-zone: "far.test." static
  local-zone: "." refuse
{data}
remote-control:
  control-enable: no
""")
        log = open(d / "unbound.log", "wb")
        p = subprocess.Popen(["ip", "netns", "exec", h.ns, UNBOUND, "-d",
                              "-c", str(conf)], stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(p)
        self.unbound = p

        def up():
            if p.poll() is not None:
                raise AssertionError("unbound exited: " + (
                    d / "unbound.log").read_text(errors="replace"))
            r = self["client"].call(dns_query, h.ip, "served.test")
            return r is not None and r[0] == 0 and r[1] == 3
        wait_for(up, 20, "unbound to answer in the bed")

    # ---- the shared directory

    def directory(self, ldif):
        """Start the bed's LDAP server (host `ldap`) holding ldif (text);
        the front ends read it with examples/front-end.conf -DUSE_LDAP."""
        f = self.dir / "directory.ldif"
        f.write_text(ldif)
        self.slapd = BedSlapd(self["ldap"], f)
        return self.slapd

    # ---- hosts running Tern

    def tern(self, name):
        """A BedTern for host `name`, in its own directory."""
        d = self.dir / name
        d.mkdir()
        t = BedTern(d, self[name])
        self.terns.append(t)
        return t

    def destination(self, name):
        """A mail store: takes mail for served.test, other.test (a second
        served domain, in the directory only) and far.test and delivers it
        all to one Maildir (maildir/inbox)."""
        t = self.tern(name)
        t.config(f"""\
primary_hostname = {name}.bed.test
local_domains = served.test : other.test : far.test
daemon_smtp_ports = 25
local_interfaces = {t.ip}
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@

begin transports

inbox:
  driver = appendfile
  directory = @DIR@/maildir/inbox
  maildir_format
  create_directory
  envelope_to_add

begin directors

everyone:
  driver = smartuser
  transport = inbox
""")
        return t

    def sender(self):
        """A Tern on the client host that sends everything by MX."""
        t = self.tern("client")
        t.config(f"""\
primary_hostname = client.bed.test
daemon_smtp_ports = 25
local_interfaces = {t.ip}
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
tern_user = @USER@

begin transports

remote_smtp:
  driver = smtp
  connect_timeout = 5s

begin routers

by_mx:
  driver = dnslookup
  transport = remote_smtp

begin retry

*  *  F,1h,1m
""")
        return t

    # ---- clients

    def send(self, ip, to, sender="sender@client.bed.test", **kw):
        """One message over SMTP from the client host to ip:25; returns
        smtplib's refused dict (raises on a failure)."""
        if isinstance(to, str):
            to = [to]
        msg = make_message(to=", ".join(to), sender=sender, **kw)

        def go():
            with smtplib.SMTP(ip, 25, timeout=30 * SCALE) as s:
                s.ehlo("client.bed.test")
                return s.sendmail(sender, to, msg)
        return self["client"].call(go)

    def smtp_reply(self, ip, commands):
        """The replies (code, text) to each of commands, from the client."""
        def go():
            with smtplib.SMTP(ip, 25, timeout=30 * SCALE) as s:
                out = [s.ehlo("client.bed.test")]
                out += [s.docmd(c) for c in commands]
                return out
        return self["client"].call(go)

    # ---- teardown

    def describe(self):
        return "\n\n".join(f"===== {t.host.name}\n{t.describe()}"
                           for t in self.terns)

    def close(self):
        for t in self.terns:
            try:
                t.stop(timeout=3)
            except Exception:
                pass
            t.kill_all()
        for p in self.procs:
            if p.poll() is None:
                Tern._killpg(p.pid, signal.SIGKILL)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.slapd is not None:
            self.slapd.close()
            self.slapd = None
        for m in self.mounts:
            sh("umount", "-l", m, check=False)
        self.mounts = []
        for ns in reversed(self.made):
            _kill_ns_pids(ns)
            sh("ip", "netns", "del", ns, check=False)
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        self.made = []


def _kill_ns_pids(ns):
    """SIGKILL whatever still runs in one of the bed's namespaces."""
    for _ in range(3):
        r = sh("ip", "netns", "pids", ns, check=False)
        pids = [int(x) for x in r.stdout.split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)

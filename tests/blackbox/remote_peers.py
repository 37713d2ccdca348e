"""Real network peers for the remote-delivery tests.

Unbound: a real DNS server for a test zone on 127.0.0.1 and a high port
(`unbound -d -c CONF`), answering only from local-data, refusing every
other name (so nothing ever leaves the machine).

Peers: aiosmtpd SMTP servers on 127.0.0.2, .3, .4 (one port for all), each
recording the messages it got (envelope, data, whether TLS was on) and the
connections made to it.  A peer can refuse chosen recipients with 550 and
offer STARTTLS with a self-signed certificate made with the openssl CLI.
"""

import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tern_helpers import SCALE, free_port, wait_for

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

# The test zone: remote.test.  Peers are mx1 (.2), mx2 (.3), fb (.4).
ZONE_DATA = """
mx.remote.test.        MX 10 mx1.remote.test.
mx.remote.test.        MX 20 mx2.remote.test.
mx1.remote.test.       A 127.0.0.2
mx2.remote.test.       A 127.0.0.3
fb.remote.test.        A 127.0.0.4
arec.remote.test.      A 127.0.0.3
single.remote.test.    MX 10 mx1.remote.test.
ghostmx.remote.test.   MX 10 ghost.remote.test.
partial.remote.test.   MX 5 ghost.remote.test.
partial.remote.test.   MX 20 mx2.remote.test.
mxip.remote.test.      MX 10 127.0.0.2.
alias.remote.test.     CNAME mx.remote.test.
self.remote.test.      MX 10 me.remote.test.
me.remote.test.        A 127.0.0.1
backup.remote.test.    MX 5 mx2.remote.test.
backup.remote.test.    MX 10 me.remote.test.
backup.remote.test.    MX 20 mx1.remote.test.
"""


def _dns_query(port, name, qtype=15):
    """One UDP query to 127.0.0.1:port; the rcode, or None on timeout."""
    qid = 0x1234
    head = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    pkt = head + q + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(pkt, ("127.0.0.1", port))
        try:
            data = s.recv(4096)
        except socket.timeout:
            return None
    return data[3] & 0x0F


class Unbound:
    """unbound -d on 127.0.0.1:port serving ZONE_DATA (plus extra lines,
    and the local zones named in zones, e.g. a reverse zone: a name, or
    (name, type) for another type than static, e.g. "refuse")."""

    def __init__(self, directory, extra="", zones=()):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        data = "\n".join(
            f'  local-data: "{" ".join(line.split())}"'
            for line in (ZONE_DATA + extra).splitlines() if line.strip())
        zone_lines = "".join(
            f'  local-zone: "{z}" static\n' if isinstance(z, str) else
            f'  local-zone: "{z[0]}" {z[1]}\n' for z in zones)
        self.conf = self.dir / "unbound.conf"
        self.conf.write_text(f"""server:
  interface: 127.0.0.1@{self.port}
  port: {self.port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "{self.dir}"
  pidfile: ""
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  verbosity: 1
  local-zone: "remote.test." static
{zone_lines}  local-zone: "." refuse
{data}
remote-control:
  control-enable: no
""")
        self.log = open(self.dir / "unbound.log", "wb")
        self.p = subprocess.Popen([UNBOUND, "-d", "-c", str(self.conf)],
                                  stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)

        def up():
            if self.p.poll() is not None:
                raise AssertionError("unbound exited: " + (
                    self.dir / "unbound.log").read_text(errors="replace"))
            return _dns_query(self.port, "mx.remote.test") == 0
        wait_for(up, 20, "unbound to answer")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def make_cert(directory, cn="mx1.remote.test"):
    """A self-signed certificate and key (openssl CLI); (cert, key)."""
    d = Path(directory)
    cert, key = d / "peer-cert.pem", d / "peer-key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", f"/CN={cn}", "-addext",
                    f"subjectAltName=DNS:{cn}"],
                   check=True, capture_output=True)
    return cert, key


class Message:
    def __init__(self, mail_from, rcpts, data, tls, options):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data
        self.tls = tls
        self.mail_options = options


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        if self.peer.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        code = self.peer.rcpt_codes.get(address.lower())
        if code:
            return f"{code} {'5.1.1' if code >= 500 else '4.2.0'} " \
                   f"refused by test peer"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.peer.lock:
            self.peer.messages.append(Message(
                envelope.mail_from, list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                session.ssl is not None, list(envelope.mail_options)))
        return "250 OK queued"


class Peer:
    """An aiosmtpd server on ip:port."""

    def __init__(self, ip, port, tls_cert=None, pipelining=True, auth=None):
        """auth: {user: password} makes the peer offer AUTH (PLAIN, LOGIN)
        in clear text and require it before MAIL."""
        self.ip, self.port = ip, port
        self.auth = auth
        self.logins = []      # (mechanism, user, accepted)
        self.messages = []
        self.connections = 0
        self.rcpt_codes = {}
        self.pipelining = pipelining
        self.lock = threading.Lock()
        self.tls_context = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
            self.tls_context = ctx
        self.controller = None

    def start(self):
        peer = self

        class Counting(Controller):
            def factory(self):
                with peer.lock:
                    peer.connections += 1
                kw = {}
                if peer.auth is not None:
                    kw = dict(auth_required=True, auth_require_tls=False,
                              authenticator=peer._authenticate)
                return SMTP(self.handler, hostname=f"peer-{peer.ip}",
                            tls_context=peer.tls_context,
                            require_starttls=False, decode_data=False, **kw)

        self.controller = Counting(_Handler(self), hostname=self.ip,
                                   port=self.port, ready_timeout=10 * SCALE)
        self.controller.start()
        with self.lock:
            self.connections = 0  # the controller's own start-up probe
        return self

    def _authenticate(self, server, session, envelope, mechanism, data):
        from aiosmtpd.smtp import AuthResult, LoginPassword
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace")
        ok = self.auth.get(user) == data.password.decode("utf-8", "replace")
        with self.lock:
            self.logins.append((mechanism, user, ok))
        return AuthResult(success=ok, handled=False,
                          auth_data=user if ok else None)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_messages(self, n, timeout=30):
        return wait_for(lambda: len(self.messages) >= n and self.messages,
                        timeout, f"{n} message(s) at peer {self.ip}")

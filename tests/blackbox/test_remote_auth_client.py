"""The smtp transport authenticates to a smarthost through the auth
modules (plaintext's client_send), as Exim's client side does; a peer that
requires AUTH gets the mail only with the right credentials."""

import re

import pytest

# the test peer offers AUTH in clear text on loopback, on purpose
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

from remote_peers import Peer
from tern_helpers import LOG_HEAD, STANDARD_CONFIG, free_port, make_message

CLIENT_AUTH = """
begin authenticators

plain_client:
  driver = plaintext
  public_name = PLAIN
  client_send = ^@USER@^@PASS@
"""


@pytest.fixture
def smarthost():
    p = Peer("127.0.0.3", free_port(), auth={"relayuser": "s3cret"})
    p.start()
    yield p
    p.stop()


def client_config(tern, peer, password, require=True):
    transport = (f"remote_smtp:\n  driver = smtp\n  port = {peer.port}\n"
                 f"  hosts_{'require' if require else 'try'}_auth = *\n"
                 f"  connect_timeout = 5s\n\n")
    routers = ("\nbegin routers\n\nsmarthost:\n  driver = manualroute\n"
               "  transport = remote_smtp\n"
               "  route_list = * 127.0.0.3\n")
    text = STANDARD_CONFIG.replace("begin transports\n\n",
                                   "begin transports\n\n" + transport, 1)
    text += routers + CLIENT_AUTH.replace("@USER@", "relayuser") \
        .replace("@PASS@", password)
    tern.config(text)


def send(tern, to):
    r = tern.run(["-odi", "-f", "sender@example.net", to],
                 input=make_message(to=to, subject="via smarthost"))
    r.ok()


def test_auth_plain_to_smarthost(tern, smarthost):
    client_config(tern, smarthost, "s3cret")
    send(tern, "far@remote.example")
    (m,) = smarthost.wait_messages(1)
    assert m.rcpts == ["far@remote.example"]
    assert b"Subject: via smarthost" in m.data
    assert smarthost.logins == [("PLAIN", "relayuser", True)]
    tern.wait_queue_empty()
    assert re.search(LOG_HEAD + r"\S+ => far@remote\.example R=smarthost "
                     r"T=remote_smtp H=\S+ \[127\.0\.0\.3\]", tern.mainlog(),
                     re.M), tern.mainlog()


def test_wrong_password_defers_and_keeps_the_message(tern, smarthost):
    client_config(tern, smarthost, "wrong")
    send(tern, "far@remote.example")
    tern.wait_for_log(r"== far@remote\.example R=smarthost T=remote_smtp")
    assert smarthost.messages == []
    assert smarthost.logins and smarthost.logins[0][2] is False
    assert len(tern.queue_ids()) == 1

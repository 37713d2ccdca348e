"""Following a message across hosts (issue 10, point 4): the smtp
transport logs the next host's final reply (C="250 ... id=ID") on the
"=>" line, reception logs the previous host's id (RI=, from the topmost
Received: header) on the "<=" line, and `tern-stats --trace ID` chains
the mainlogs of several hosts.  Three real Tern instances on 127.0.0.1,
each with its own port, spool and log, chained by manualroute."""

import json
import re
import subprocess

import pytest

from tern_helpers import (ID_RE, LOG_HEAD, PREFIX, STANDARD_CONFIG,
                          make_message)

RELAY = """
relay_smtp:
  driver = smtp
  port = @NEXTPORT@
  connect_timeout = 5s
  allow_localhost
"""

ROUTER = """
onward:
  driver = manualroute
  domains = far.example
  transport = relay_smtp
  route_list = * 127.0.0.1

begin retry

*   *   F,1h,1s
"""


@pytest.fixture
def chain(three_terns):
    """Three instances (conftest.py's three_terns)."""
    return three_terns


def relay_config(t, name, nextport):
    text = STANDARD_CONFIG.replace("primary_hostname = test.example",
                                   f"primary_hostname = {name}.example")
    text = text.replace("begin transports\n\n", "begin transports\n\n" +
                        RELAY.replace("@NEXTPORT@", str(nextport)) + "\n")
    text = text.replace("begin directors\n", "begin routers\n" + ROUTER +
                        "\nbegin directors\n")
    return t.config(text, main="relay_from_hosts = 127.0.0.1\n"
                    "relay_to_domains = far.example")


def arrival(t, pattern):
    m = t.wait_for_log(LOG_HEAD + "(" + ID_RE + ") <= " + pattern + ".*$")
    return m.group(1), m.group(0)


def test_trace_three_hosts(chain):
    h1, h2, h3 = chain
    relay_config(h1, "hop1", h2.port)
    relay_config(h2, "hop2", h3.port)
    h3.config(STANDARD_CONFIG.replace(
        "local_domains = test.example", "local_domains = far.example : "
        "test.example").replace("primary_hostname = test.example",
                                "primary_hostname = hop3.example"))
    for t in chain:
        t.start_daemon()
    h1.send("alice@far.example",
            msg=make_message(to="alice@far.example", subject="three hops"))
    h3.wait_mbox("alice")

    id1, _ = arrival(h1, "sender@example.net ")
    id2, line2 = arrival(h2, "sender@example.net ")
    id3, line3 = arrival(h3, "sender@example.net ")
    assert len({id1, id2, id3}) == 3
    # Each arrival names the previous host's id ...
    assert f" RI={id1}" in line2
    assert f" RI={id2}" in line3
    # ... and each delivery the next host's, from its 250 reply.
    d1 = h1.wait_for_log(LOG_HEAD + re.escape(id1) + " => .*$").group(0)
    assert f' C="250 2.0.0 OK id={id2}"' in d1
    d2 = h2.wait_for_log(LOG_HEAD + re.escape(id2) + " => .*$").group(0)
    assert f' C="250 2.0.0 OK id={id3}"' in d2
    for t, i in ((h1, id1), (h2, id2), (h3, id3)):
        t.wait_completed(i)
    # The first arrival came from a client with no Received: header of its
    # own making a Tern id: no RI=.
    assert " RI=" not in arrival(h1, "sender@example.net ")[1]

    logs = [f"{n}:{t.logdir / 'mainlog'}" for n, t in
            (("hop1", h1), ("hop2", h2), ("hop3", h3))]
    tool = str(PREFIX / "bin" / "tern-stats")
    # From any of the three ids, the same path, in order.
    for start in (id1, id2, id3):
        r = subprocess.run([tool, "--trace", start, *logs],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "path: hop1 -> hop2 -> hop3;" in r.stdout, r.stdout
        heads = [l for l in r.stdout.splitlines() if re.match(r"\d+\. ", l)]
        assert heads == [f"1. hop1 {id1}", f"2. hop2 {id2} (from hop1 {id1})",
                         f"3. hop3 {id3} (from hop2 {id2})"], r.stdout
    r = subprocess.run([tool, "--trace", id1, "--json", *logs],
                       capture_output=True, text=True, timeout=60)
    hops = json.loads(r.stdout)
    assert [(h["host"], h["id"]) for h in hops] == [
        ("hop1", id1), ("hop2", id2), ("hop3", id3)]
    assert any(e["line"].startswith("=> ") and "alice@far.example" in
               e["line"]
               for e in hops[2]["events"])
    # Not in the logs: an error, not an empty trace.
    r = subprocess.run([tool, "--trace", "1aaaaa-bbbbbb-ccccccccc", *logs],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "not in the logs" in r.stderr

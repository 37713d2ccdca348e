"""Operations tools: tern-stats (mainlog statistics, text/JSON/HTML),
tern-what (process titles), tern-qgrep (queue selection); the sendmail
and mailq entry points of the installation."""

import html.parser
import json
import os
import re
import shutil
import subprocess

from tern_helpers import (PREFIX, SLOWPIPE, STANDARD_ALIASES, IS_ROOT,
                          make_message, spool_reseal, wait_for)


def tool(name, *args, check=True, **kw):
    r = subprocess.run([str(PREFIX / "bin" / name), *map(str, args)],
                       capture_output=True, text=True, timeout=60, **kw)
    if check:
        assert r.returncode == 0, f"{name} {args}: {r.returncode}\n" \
            f"{r.stdout}\n{r.stderr}"
    return r


# ------------------------------------------------------------ tern-stats

SYNTHETIC = """\
2026-01-05 09:10:00 1aaaaa-000001-000000001 <= alice@example.com H=client.example.net (client) [192.0.2.7]:51234 P=esmtp S=1000 id=a@x
2026-01-05 09:10:01 1aaaaa-000001-000000001 => bob@test.example R=localuser T=local_mbox
2026-01-05 09:10:01 1aaaaa-000001-000000001 -> carol@test.example R=localuser T=local_mbox
2026-01-05 09:10:01 1aaaaa-000001-000000001 Completed
2026-01-05 10:00:00 1aaaaa-000002-000000002 <= alice@example.com H=client.example.net (client) [192.0.2.7]:51240 P=esmtp S=3000 id=b@x
2026-01-05 10:05:00 1aaaaa-000002-000000002 == dave@remote.example R=smarthost T=remote_smtp defer (111): Connection refused
2026-01-05 12:05:00 1aaaaa-000002-000000002 => dave@remote.example R=smarthost T=remote_smtp H=mx.remote.example [192.0.2.9] C="250 OK"
2026-01-05 12:05:00 1aaaaa-000002-000000002 Completed
2026-01-05 10:30:00 1aaaaa-000003-000000003 <= <> U=tern P=local S=500 id=c@x
2026-01-05 10:30:01 1aaaaa-000003-000000003 ** nobody@test.example: Unrouteable address
2026-01-05 10:30:01 1aaaaa-000003-000000003 Completed
2026-01-05 10:31:00 H=(helo) [192.0.2.66]:4000 rejected RCPT <x@elsewhere.example>: relay not permitted
"""


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.bars = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "rect" and "bar" in (a.get("class") or ""):
            self.bars.append(float(a["height"]))

    def handle_data(self, data):
        self.text.append(data)


def test_stats_counts_a_synthetic_log(tmp_path):
    log = tmp_path / "mainlog"
    log.write_text(SYNTHETIC)
    s = json.loads(tool("tern-stats", "--json", log).stdout)
    assert s["received"] == {"messages": 3, "bytes": 4500}
    assert s["delivered"] == {"messages": 3, "bytes": 5000}
    assert (s["deferred"], s["failed"], s["rejected"], s["completed"]) == \
        (1, 1, 1, 3)
    assert s["per_hour"]["received"][9:11] == [1, 2]
    assert s["per_hour"]["delivered"][9] == 2
    assert s["per_hour"]["delivered"][12] == 1
    assert s["top_senders"][0] == ["alice@example.com", 2]
    assert ["client.example.net [192.0.2.7]", 2] in s["top_hosts_received"]
    assert ["mx.remote.example [192.0.2.9]", 1] in s["top_hosts_delivered"]
    assert s["top_defer_reasons"] == [["Connection refused", 1]]
    delays = dict(s["delays"])
    assert delays["< 1m"] == 2 and delays["1h - 3h"] == 1
    text = tool("tern-stats", log).stdout
    assert re.search(r"Received\s+3\s+4500", text), text
    assert re.search(r"Delivered\s+3\s+5000", text), text


def test_stats_reads_lines_with_pid_millisec_and_optional_fields(tmp_path):
    """log_selector +pid +millisec, and the optional fields of +all
    (docs/log.md), leave the counts as they were."""
    def more(line):
        head, rest = line[:19], line[20:]
        if " => " in line or " -> " in line:
            rest = rest.replace(" R=", " (mid@test.example) F=<alice@x> "
                                "P=<alice@x> R=", 1)
        if " <= " in line:
            rest += ' T="a subject with = and spaces" from <alice@x> for ' \
                    'bob@test.example'
        return f"{head}.123 [4711] {rest}"
    log = tmp_path / "mainlog"
    log.write_text("".join(more(ln) + "\n" for ln in SYNTHETIC.splitlines()))
    s = json.loads(tool("tern-stats", "--json", log).stdout)
    assert s["received"] == {"messages": 3, "bytes": 4500}
    assert s["delivered"] == {"messages": 3, "bytes": 5000}
    assert (s["deferred"], s["failed"], s["rejected"], s["completed"]) == \
        (1, 1, 1, 3)
    assert ["bob@test.example", 1] in s["top_recipients"], s
    assert s["per_hour"]["received"][9:11] == [1, 2]


def test_stats_on_a_real_log_and_html(tern, tmp_path):
    tern.config()
    tern.start_daemon()
    for i in range(3):
        assert tern.send("alice@test.example",
                         sender="one@example.net") == {}
    assert tern.send(["bob@test.example", "carol@test.example"],
                     sender="two@example.net") == {}
    tern.wait_queue_empty()
    wait_for(lambda: tern.mainlog().count(" Completed") == 4, 20,
             "4 completions")
    page = tmp_path / "stats.html"
    s = json.loads(tool("tern-stats", "--json", "--html", page,
                        tern.logdir / "mainlog").stdout)
    assert s["received"]["messages"] == 4
    assert s["delivered"]["messages"] == 5
    sizes = [int(x) for x in re.findall(r" <= .* S=(\d+)", tern.mainlog())]
    assert s["received"]["bytes"] == sum(sizes)
    assert s["top_senders"][0] == ["one@example.net", 3]
    assert ["alice@test.example", 3] in s["top_recipients"]
    assert s["top_hosts_received"][0][1] == 4
    assert "[127.0.0.1]" in s["top_hosts_received"][0][0]
    assert s["failed"] == 0 and s["deferred"] == 0
    assert sum(n for _, n in s["delays"]) == 5

    p = Page()
    p.feed(page.read_text())
    assert "script" not in p.tags, "no JavaScript"
    assert p.tags.count("svg") >= 2, "a chart per hour and for delays"
    assert sum(1 for h in p.bars if h > 0) >= 2
    assert "one@example.net" in "".join(p.text)
    assert not re.search(r"(src|href)=\"https?:", page.read_text())
    render_in_browser(page, tmp_path)


def render_in_browser(page, tmp_path):
    """Headless Chromium lays the page out: its rendered DOM keeps the
    charts, and the screenshot is a real picture, not an empty page."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is in scripts/deps-test.txt"
    flags = ["--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic",
             f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") >= 2, dom.stdout[:2000]
    assert "one@example.net" in dom.stdout
    shot = tmp_path / "stats.png"
    r = subprocess.run([chromium, *flags, "--window-size=1200,1600",
                        f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank page compresses to a few KB; text and bars do not
    assert len(data) > 20000, f"screenshot only {len(data)} bytes"


# ------------------------------------------------------------ tern-what

def what_lines():
    return tool("tern-what", check=False).stdout.splitlines()


def test_what_shows_daemon_reception_and_delivery(tern):
    tern.script("slowpipe", SLOWPIPE)
    tern.config(aliases=STANDARD_ALIASES +
                'slow: "|@DIR@/bin/slowpipe @DIR@/out"\n')
    daemon = tern.start_daemon()
    s = tern.smtp()
    want_daemon = re.compile(rf"^\s*{daemon.pid} tern: daemon: listening on "
                             rf".*\[127\.0\.0\.1\]:{tern.port}.*; 1 connection$")
    wait_for(lambda: any(want_daemon.match(l) for l in what_lines()), 10,
             f"tern-what to show the daemon: {what_lines()}")
    lines = what_lines()
    assert any(re.match(r"^\s*\d+ tern: handling incoming connection "
                        r"from \[127\.0\.0\.1\]$", l) for l in lines), lines
    assert s.sendmail("a@example.net", ["slow@test.example"],
                      make_message(to="slow@test.example")) == {}
    s.quit()
    wait_for(tern.path("out", "started").exists, 30, "the slow delivery")
    (msgid,) = tern.queue_ids()
    assert any(re.match(rf"^\s*\d+ tern: delivering {msgid}$", l)
               for l in what_lines()), what_lines()
    # the daemon's title follows the connection count
    wait_for(lambda: any(re.match(rf"^\s*{daemon.pid} .*; 0 connections$", l)
                         for l in what_lines()), 10, "0 connections")
    tern.write("out/release", "")
    tern.wait_queue_empty()


def test_title_keeps_sighup_reexec_working(tern):
    """The title overwrites argv's memory: the re-exec on SIGHUP must still
    get the original arguments."""
    tern.config()
    daemon = tern.start_daemon()
    wait_for(lambda: any(l.lstrip().startswith(f"{daemon.pid} tern: daemon")
                         for l in what_lines()), 10, "the title")
    os.kill(daemon.pid, 1)
    tern.wait_for_log(r"SIGHUP received: re-exec")
    wait_for(lambda: tern.mainlog().count("daemon started") == 2, 20,
             "the re-executed daemon")
    assert tern.send("alice@test.example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1


# ------------------------------------------------------------ tern-qgrep

def qgrep(tern, *args):
    return tool("tern-qgrep", "--tern", PREFIX / "bin" / "tern",
                "-C", tern.conf, *args)


def freeze(tern, msgid):
    """Mark a message frozen the way the spool format says (docs/spool.md):
    a "-frozen" line in the header section, which starts at the offset in
    the first line of ID-M."""
    h = tern.spool / "input" / f"{msgid}-M"
    data = h.read_bytes()
    off = int(data[26:42], 16)
    h.write_bytes(data[:off] + data[off:].replace(b"\nXX\n",
                                                  b"\n-frozen\nXX\n", 1))
    spool_reseal(h)


def test_qgrep_selects(tern):
    tern.config()
    ids = {}
    for sender, rcpt, body in (("one@example.net", "alice@test.example", "x"),
                               ("two@example.org", "bob@test.example",
                                "y" * 20000),
                               ("two@example.org", "carol@test.example", "z")):
        r = tern.run(["-odq", "-f", sender, "-i", rcpt],
                     input=f"Subject: q\n\n{body}\n", prog="sendmail")
        assert r.returncode == 0, r
        new = set(tern.queue_ids()) - set(ids.values())
        (ids[rcpt],) = new
    freeze(tern, ids["carol@test.example"])
    if IS_ROOT:
        os.system(f"chown -R {tern.uid}:{tern.gid} {tern.spool}")
    ids_of = lambda *a: sorted(qgrep(tern, "-i", *a).stdout.split())
    assert ids_of() == sorted(ids.values())
    assert ids_of("-f", "^two@") == sorted([ids["bob@test.example"],
                                           ids["carol@test.example"]])
    assert ids_of("-r", "alice") == [ids["alice@test.example"]]
    assert ids_of("-z") == [ids["carol@test.example"]]
    assert ids_of("-x", "-f", "two") == [ids["bob@test.example"]]
    assert ids_of("-s", r"^\d{5,}$") == [ids["bob@test.example"]]
    assert ids_of("-y", "3600") == sorted(ids.values())
    assert ids_of("-o", "3600") == []
    assert ids_of("-v", "-r", "alice") == sorted(
        [ids["bob@test.example"], ids["carol@test.example"]])
    assert qgrep(tern, "-c", "-f", "two").stdout.strip() == \
        "2 matches out of 3 messages"
    listing = qgrep(tern, "-z").stdout
    assert re.search(rf"{ids['carol@test.example']} <two@example\.org> "
                     r"\*\*\* frozen \*\*\*", listing), listing
    assert "carol@test.example" in listing
    # the same as tern -bp says, for the unfrozen messages
    bp = tern.run(["-bp"]).ok().stdout
    for rcpt, msgid in ids.items():
        assert msgid in bp and rcpt in bp


# ------------------------------------------------------------ entry points

def test_entry_points_are_links_to_tern():
    for name in ("sendmail", "mailq", "newaliases"):
        p = PREFIX / "bin" / name
        assert p.is_symlink() and os.path.realpath(p) == \
            os.path.realpath(PREFIX / "bin" / "tern"), p


def test_sendmail_t_i_and_mailq_through_entry_points(tern):
    tern.config()
    msg = make_message(to="alice@test.example, bob@test.example",
                       subject="entry points", eol=b"\n")
    r = tern.run(["-odq", "-t", "-i"], input=msg, prog="sendmail")
    assert r.returncode == 0, r
    (msgid,) = tern.queue_ids()
    r = tern.run([], prog="mailq").ok()
    assert msgid in r.stdout and "alice@test.example" in r.stdout and \
        "bob@test.example" in r.stdout, r
    r = tern.run(["-q"])
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    assert len(tern.mbox("alice")) == 1 and len(tern.mbox("bob")) == 1

"""Scale-out across hosts (issue 10), on the multi-host bed (bed.py):
each host is a network namespace running examples/front-end.conf,
examples/retry-host.conf or examples/backup-mx.conf unchanged (site values
with -D), resolving through the bed's DNS server, where

  served.test  MX 10 fe1, MX 10 fe2, MX 20 backup   (mailstore: dest1)
  far.test     MX 10 dest2
"""

import re
import subprocess

from tern_helpers import (ID_RE, LOG_HEAD, make_message, read_maildir,
                          wait_for)


def front_end(bed, name):
    t = bed.tern(name)
    t.use_example("front-end.conf", PRIMARY_HOSTNAME=f"{name}.bed.test",
                  SERVED_DOMAINS="served.test",
                  MAILSTORE_HOSTS=bed["dest1"].ip,
                  RETRY_HOST=bed["retry"].ip,
                  RELAY_HOSTS=bed["client"].ip,
                  SPOOL_RESERVE="1K")
    return t


def retry_host(bed):
    t = bed.tern("retry")
    t.use_example("retry-host.conf", PRIMARY_HOSTNAME="retry.bed.test",
                  SERVED_DOMAINS="served.test",
                  MAILSTORE_HOSTS=bed["dest1"].ip,
                  FRONT_ENDS=f"{bed['fe1'].ip} : {bed['fe2'].ip}")
    return t


def backup_mx(bed):
    t = bed.tern("backup")
    t.use_example("backup-mx.conf", PRIMARY_HOSTNAME="backup.bed.test",
                  SERVED_DOMAINS="served.test")
    return t


def inbox(dest):
    p = dest.path("maildir", "inbox")
    return read_maildir(p) if (p / "new").is_dir() else []


def subjects(dest, count):
    """The subjects in dest's inbox, once it holds `count` messages and
    dest has finished delivering (its local delivery follows its 250)."""
    new = dest.path("maildir", "inbox", "new")
    wait_for(lambda: new.is_dir() and len(list(new.iterdir())) >= count,
             30, f"{count} message(s) in {dest.host.name}'s inbox")
    dest.wait_queue_empty()
    return sorted(re.search(rb"^Subject: (.*?)\r?$", m, re.M).group(1)
                  .decode() for m in inbox(dest))


def test_bed_is_isolated(bed):
    """The bed's addresses exist only in its namespaces."""
    out = subprocess.run(["ip", "-br", "addr"], capture_output=True,
                         text=True).stdout
    assert "198.18." not in out
    r = bed["fe1"].run("ip", "-br", "addr", "show", "eth0")
    assert bed["fe1"].ip in r.stdout
    # Hosts reach each other across the bridge (the DNS answers).
    r = bed["retry"].run("getent", "ahostsv4", "backup.bed.test")
    assert bed["backup"].ip in r.stdout, r.stdout + r.stderr


def test_destination_down_goes_to_retry_host(bed):
    """One try at the destination (by MX for far.test, by the mailstore
    route for served.test), then the retry host takes the message in the
    same delivery; it delivers when the destination is back."""
    fe1, rh = front_end(bed, "fe1"), retry_host(bed)
    dest1, dest2 = bed.destination("dest1"), bed.destination("dest2")
    fe1.start_daemon()
    rh.start_daemon()
    bed.send(fe1.ip, "bob@far.test", subject="far")
    bed.send(fe1.ip, "alice@served.test", subject="served")
    got = {}
    # Both arrive at the retry host; map them by the front end's log.
    rh.wait_for_log(LOG_HEAD + ID_RE + r" == bob@far\.test ")
    rh.wait_for_log(LOG_HEAD + ID_RE + r" == alice@served\.test ")
    for fid in fe1.arrivals():
        fe1.wait_completed(fid)
        lines = "\n".join(fe1.log_lines(fid))
        m = re.search(r"=> (\S+) R=(\w+) T=remote_smtp H=" +
                      re.escape(rh.ip) + r" \[" + re.escape(rh.ip) +
                      r"\] C=\"250 2\.0\.0 OK id=(" + ID_RE + ")\"", lines)
        assert m, lines
        got[m.group(1)] = (m.group(2), m.group(3))
    assert {k: v[0] for k, v in got.items()} == {
        "bob@far.test": "dnslookup", "alice@served.test": "mailstores"}
    fe1.wait_queue_empty()
    assert sorted(rh.queue_ids()) == sorted(v[1] for v in got.values())
    # The destinations come back; the retry host delivers, once.
    dest1.start_daemon()
    dest2.start_daemon()
    rh.run(["-qf"]).ok()
    rh.wait_queue_empty()
    for rcpt, (_, rid) in got.items():
        rh.wait_completed(rid)
    assert subjects(dest2, 1) == ["far"]
    assert subjects(dest1, 1) == ["served"]


def test_killed_front_ends_mx_fallback(bed):
    """A sending Tern follows the MX records: with fe1 killed, fe2 takes
    the mail; with both killed, the backup MX does, and hands it to a
    front end when one is back.  Nothing is lost or duplicated."""
    fe1, fe2 = front_end(bed, "fe1"), front_end(bed, "fe2")
    rh, bk = retry_host(bed), backup_mx(bed)
    dest1 = bed.destination("dest1")
    sender = bed.sender()
    for t in (dest1, rh, fe1, fe2, bk):
        t.start_daemon()

    def submit(subject):
        msg = make_message(to="alice@served.test", subject=subject,
                           sender="sender@client.bed.test")
        r = sender.run(["-odi", "-f", "sender@client.bed.test",
                        "alice@served.test"], input=msg)
        assert r.returncode == 0, r

    fe1.kill_daemon()
    for n in range(3):
        submit(f"fe1 down {n}")
    sender.wait_queue_empty()
    hosts = re.findall(r"=> alice@served\.test R=by_mx T=remote_smtp "
                       r"H=(\S+) ", sender.mainlog())
    assert hosts == ["fe2.bed.test"] * 3, sender.mainlog()
    fe2.kill_daemon()
    for n in range(3):
        submit(f"both down {n}")
    sender.wait_queue_empty()
    hosts = re.findall(r"=> alice@served\.test R=by_mx T=remote_smtp "
                       r"H=(\S+) ", sender.mainlog())
    assert hosts == ["fe2.bed.test"] * 3 + ["backup.bed.test"] * 3, \
        sender.mainlog()
    # The backup MX keeps them: only the (dead) front ends are preferred.
    bk.wait_for_log(r"(?s)(.* == alice@served\.test ){3}")
    assert len(bk.queue_ids()) == 3
    fe1.start_daemon()
    bk.run(["-qf"]).ok()
    bk.wait_queue_empty()
    assert re.findall(r"=> alice@served\.test R=primary_mx T=remote_smtp "
                      r"H=(\S+) ", bk.mainlog()) == ["fe1.bed.test"] * 3
    want = sorted([f"fe1 down {n}" for n in range(3)] +
                  [f"both down {n}" for n in range(3)])
    assert subjects(dest1, 6) == want
    fe1.wait_queue_empty()
    assert not rh.queue_ids()


def test_full_ram_spool_answers_452_next_mx_accepts(bed):
    """fe1's spool is a small tmpfs that is full: MAIL gets 452 and the
    sending Tern moves on to the next MX (fe2 is down: the backup MX)."""
    fe1 = front_end(bed, "fe1")
    fe1.defs["SPOOL_RESERVE"] = "512K"
    fe1.spool.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0750",
                    "tmpfs", str(fe1.spool)], check=True)
    bed.mounts.append(fe1.spool)
    fe1.own(fe1.spool)
    bk, dest1 = backup_mx(bed), bed.destination("dest1")
    sender = bed.sender()
    for t in (fe1, bk, dest1):
        t.start_daemon()
    # Fill the RAM disk (as its own user, as mail would).
    # Fill the RAM disk.
    (fe1.spool / "filler").write_bytes(b"\0" * 700000)
    replies = bed.smtp_reply(fe1.ip, ["MAIL FROM:<sender@client.bed.test>"])
    code, text = replies[-1]
    assert code == 452, (code, text)
    assert b"insufficient disk space" in text
    msg = make_message(to="alice@served.test", subject="full",
                       sender="sender@client.bed.test")
    r = sender.run(["-odi", "-f", "sender@client.bed.test",
                    "alice@served.test"], input=msg)
    assert r.returncode == 0, r
    sender.wait_queue_empty()
    log = sender.mainlog()
    assert re.search(r"=> alice@served\.test R=by_mx T=remote_smtp "
                     r"H=backup\.bed\.test ", log), log
    bk.wait_for_log(LOG_HEAD + ID_RE + r" <= sender@client\.bed\.test ")
    assert not fe1.arrivals()
    # The sending Tern did try fe1 (and got the 452) before the backup MX.
    tried = re.findall(r"H=\[" + re.escape(bed["client"].ip) + r"\] "
                       r"rejected MAIL FROM:<sender@client\.bed\.test>: "
                       r"spool space check failed", fe1.rejectlog())
    assert len(tried) == 2, fe1.rejectlog()

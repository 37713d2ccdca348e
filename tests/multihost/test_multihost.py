"""Scale-out across hosts (issue 10), on the multi-host bed (bed.py):
each host is a network namespace running examples/front-end.conf,
examples/retry-host.conf or examples/backup-mx.conf unchanged (site values
with -D), resolving through the bed's DNS server, where

  served.test  MX 10 fe1, MX 10 fe2, MX 20 backup   (mailstore: dest1)
  far.test     MX 10 dest2

and, for the test of the shared directory, host `ldap` runs slapd with
the served domains and their users (front ends with -DUSE_LDAP).
"""

import os
import re
import subprocess

from tern_helpers import (ID_RE, LOG_HEAD, PREFIX, make_message,
                          read_maildir, wait_for)


def front_end(bed, name, **defs):
    t = bed.tern(name)
    t.use_example("front-end.conf", **{
        "PRIMARY_HOSTNAME": f"{name}.bed.test",
        "SERVED_DOMAINS": "served.test",
        "MAILSTORE_HOSTS": bed["dest1"].ip,
        "RETRY_HOST": bed["retry"].ip,
        "RELAY_HOSTS": bed["client"].ip,
        "SPOOL_RESERVE": "1K", **defs})
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
    # Exactly one try at the destination, then the handover: the smtp
    # transport logs each failed host ("H=host [ip] defer (errno): ...")
    # before the => line of the fallback host that took the message.
    dest_of = {"bob@far.test": dest2.ip, "alice@served.test": dest1.ip}
    for fid in fe1.arrivals():
        lines = fe1.log_lines(fid)
        rcpt = next(r for r in dest_of if any(f"=> {r} " in l
                                              for l in lines))
        tries = [i for i, l in enumerate(lines)
                 if re.search(ID_RE + r" H=\S+ \[" + re.escape(dest_of[rcpt]) +
                              r"\] defer \(111\): .*Connection refused",
                              l)]
        handover = [i for i, l in enumerate(lines) if f"=> {rcpt} " in l]
        assert len(tries) == 1 and len(handover) == 1, lines
        assert tries[0] < handover[0], lines
        # Nothing else was tried: no other host, no deferral, no bounce.
        assert not [l for l in lines if re.search(r" (==|\*\*) ", l)], lines
    fe1.wait_queue_empty()
    assert sorted(rh.queue_ids()) == sorted(v[1] for v in got.values())
    # A queue run at the front end finds nothing to retry: its queue is
    # empty and the messages get no further log lines there.
    before = {fid: len(fe1.log_lines(fid)) for fid in fe1.arrivals()}
    fe1.run(["-qf"]).ok()
    assert fe1.queue_ids() == []
    assert {fid: len(fe1.log_lines(fid)) for fid in fe1.arrivals()} == \
        before, fe1.mainlog()
    # The next message for the failed destination is not even tried there
    # (its host retry record): straight to the retry host.
    bed.send(fe1.ip, "bob@far.test", subject="far again")
    third = wait_for(lambda: [f for f in fe1.arrivals() if f not in before],
                     20, "the third message at fe1")[0]
    fe1.wait_completed(third)
    lines = fe1.log_lines(third)
    assert not [l for l in lines if " defer (" in l], lines
    m = re.search(r"=> bob@far\.test R=dnslookup T=remote_smtp H=" +
                  re.escape(rh.ip) + r" \[.*? C=\"250 2\.0\.0 OK id=(" +
                  ID_RE + ")\"", "\n".join(lines))
    assert m, lines
    got["bob@far.test (again)"] = ("dnslookup", m.group(1))
    fe1.wait_queue_empty()
    # The destinations come back; the retry host delivers, once.
    dest1.start_daemon()
    dest2.start_daemon()
    rh.run(["-qf"]).ok()
    rh.wait_queue_empty()
    for rcpt, (_, rid) in got.items():
        rh.wait_completed(rid)
    assert subjects(dest2, 2) == ["far", "far again"]
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


# The shared directory: examples/isp's layout (dc=DOMAIN below
# ou=domains; an entry's "mail" values are its addresses).
DIRECTORY = """\
dn: dc=isp,dc=test
objectClass: dcObject
objectClass: organization
dc: isp
o: The bed's ISP

dn: ou=domains,dc=isp,dc=test
objectClass: organizationalUnit
ou: domains

dn: dc=served.test,ou=domains,dc=isp,dc=test
objectClass: domain
dc: served.test

dn: uid=alice,dc=served.test,ou=domains,dc=isp,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Served
mail: alice@served.test
mail: info@served.test

dn: dc=other.test,ou=domains,dc=isp,dc=test
objectClass: domain
dc: other.test

dn: uid=dave,dc=other.test,ou=domains,dc=isp,dc=test
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: Other
mail: dave@other.test
"""

CAROL = """\
dn: uid=carol,dc=served.test,ou=domains,dc=isp,dc=test
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Served
mail: carol@served.test
"""


def test_shared_directory_same_answers_on_both_front_ends(bed):
    """fe1 and fe2 (examples/front-end.conf -DUSE_LDAP) take the served
    domains and their users from the one slapd on host `ldap`: the same
    addresses get 250 and 550 on both, a user added to (or removed from)
    the directory counts on both at once, without a restart or reload,
    and accepted mail goes on to the mailstore."""
    d = bed.directory(DIRECTORY)
    ldap = {"USE_LDAP": "1", "LDAP_SERVERS": f"{bed['ldap'].ip}::389",
            # nobody may relay: only the directory's domains are taken
            "RELAY_HOSTS": "198.18.0.250"}
    fes = [front_end(bed, "fe1", **ldap), front_end(bed, "fe2", **ldap)]
    dest1 = bed.destination("dest1")
    for t in (*fes, dest1):
        t.start_daemon()
    pids = [t.daemon.pid for t in fes]

    def answers(rcpts):
        out = {}
        for t in fes:
            replies = bed.smtp_reply(t.ip, [
                "MAIL FROM:<sender@client.bed.test>",
                *[f"RCPT TO:<{r}>" for r in rcpts]])
            assert replies[1][0] == 250, replies
            out[t.host.name] = {r: c for r, (c, _) in
                                zip(rcpts, replies[2:])}
        assert out["fe1"] == out["fe2"], out
        return out["fe1"]

    assert answers(["alice@served.test", "info@served.test",
                    "dave@other.test", "Alice@Served.test",
                    "nobody@served.test", "carol@served.test",
                    "alice@other.test", "alice@far.test"]) == {
        "alice@served.test": 250, "info@served.test": 250,
        "dave@other.test": 250, "Alice@Served.test": 250,
        "nobody@served.test": 550, "carol@served.test": 550,
        "alice@other.test": 550, "alice@far.test": 550}
    for t in fes:
        rej = t.rejectlog()
        assert re.search(r"rejected RCPT <nobody@served\.test>: ", rej), rej
        assert re.search(r"rejected RCPT <alice@far\.test>: relay not "
                         r"permitted", rej), rej
    # Both asked the directory (slapd's stats log names each client).
    log = d.log()
    for t in fes:
        assert re.search(r"ACCEPT from IP=" + re.escape(t.ip) + r":", log)
    # A new user: accepted by both at once; a removed one: refused by both.
    d.modify(CAROL)
    d.modify("uid=alice,dc=served.test,ou=domains,dc=isp,dc=test\n",
             op="ldapdelete")
    assert answers(["carol@served.test", "alice@served.test",
                    "info@served.test", "dave@other.test"]) == {
        "carol@served.test": 250, "alice@served.test": 550,
        "info@served.test": 550, "dave@other.test": 250}
    assert [t.daemon.pid for t in fes] == pids
    assert all(t.daemon.poll() is None for t in fes)
    assert all(t.mainlog().count("daemon started") == 1 for t in fes)
    # And the mail itself reaches the mailstore from either front end.
    bed.send(fes[0].ip, "carol@served.test", subject="via fe1")
    bed.send(fes[1].ip, "dave@other.test", subject="via fe2")
    assert subjects(dest1, 2) == ["via fe1", "via fe2"]
    for t, rcpt in zip(fes, ("carol@served.test", "dave@other.test")):
        t.wait_queue_empty()
        assert re.search(r"=> " + re.escape(rcpt) + r" R=virtual_users "
                         r"T=to_mailstores H=" + re.escape(dest1.ip) + " ",
                         t.mainlog()), t.mainlog()


def test_ram_spool_save_restore_delivers_once(bed):
    """fe1's spool is a tmpfs holding messages it could not deliver (the
    mailstore and the retry host are both down).  fe1 stops, tern-spool
    saves the spool to disk, the tmpfs is thrown away and made afresh (a
    reboot), tern-spool restores, fe1 starts again and, the mailstore
    being back, delivers every message exactly once."""
    n = 5
    fe1 = front_end(bed, "fe1")
    fe1.spool.mkdir()

    def mount_tmpfs():
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0750",
                        "tmpfs", str(fe1.spool)], check=True)
        bed.mounts.append(fe1.spool)
        fe1.own(fe1.spool)
    mount_tmpfs()
    rh, dest1 = retry_host(bed), bed.destination("dest1")
    fe1.start_daemon()
    for i in range(n):
        bed.send(fe1.ip, "alice@served.test", subject=f"saved {i}")
    ids = fe1.arrivals()
    assert len(ids) == n
    for mid in ids:   # one try at each host, then it stays
        fe1.wait_for_log(LOG_HEAD + re.escape(mid) + r" == alice@served")
    assert fe1.queue_ids() == sorted(ids)
    msgids = sorted(re.search(r" id=(\S+)", fe1.log_lines(mid)[0]).group(1)
                    for mid in ids)
    assert len(set(msgids)) == n

    fe1.stop()
    tool = [str(PREFIX / "bin" / "tern-spool"), "--wait", "10"]
    save = fe1.path("spool-save")       # on disk
    r = subprocess.run([*tool, "save", str(fe1.spool), str(save)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"saved {n} message(s)" in r.stdout, r.stdout
    # The reboot: the RAM disk and everything on it is gone.
    subprocess.run(["umount", str(fe1.spool)], check=True)
    bed.mounts.remove(fe1.spool)
    assert fe1.queue_ids() == []
    mount_tmpfs()
    assert os.listdir(fe1.spool) == []
    r = subprocess.run([*tool, "restore", str(fe1.spool), str(save)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"restored {n} message(s)" in r.stdout, r.stdout
    assert fe1.queue_ids() == sorted(ids)
    # The mailstore (and the retry host) are back; fe1 starts again.
    dest1.start_daemon()
    rh.start_daemon()
    fe1.start_daemon()
    fe1.run(["-qf"]).ok()
    fe1.wait_queue_empty()
    got = subjects(dest1, n)
    assert got == sorted(f"saved {i}" for i in range(n))
    seen = sorted(re.search(rb"^Message-ID: <(.*?)>\r?$", m, re.M | re.I)
                  .group(1).decode() for m in inbox(dest1))
    assert seen == msgids            # each one, once
    for mid in ids:
        assert len(fe1.deliveries(mid)) == 1, fe1.log_lines(mid)
    assert not rh.arrivals()
    # A second restore (fe1 stopped again) finds nothing to bring back.
    fe1.stop()
    r = subprocess.run([*tool, "restore", str(fe1.spool), str(save)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "restored 0 message(s)" in r.stdout, r


def test_trace_follows_a_message_across_the_bed(bed):
    """client -> fe1 -> retry host -> dest1 (down at first): the mainlogs
    collected from the four hosts, `tern-stats --trace ID` with the id of
    any hop prints the hosts in order with their ids, and fe1's hop shows
    its one try at the mailstore before the handover."""
    fe1, rh = front_end(bed, "fe1"), retry_host(bed)
    dest1, sender = bed.destination("dest1"), bed.sender()
    for t in (fe1, rh):
        t.start_daemon()
    msg = make_message(to="alice@served.test", subject="traced",
                       sender="sender@client.bed.test")
    r = sender.run(["-odi", "-f", "sender@client.bed.test",
                    "alice@served.test"], input=msg)
    assert r.returncode == 0, r
    sender.wait_queue_empty()
    (c_id,) = sender.arrivals()
    (f_id,) = wait_for(fe1.arrivals, 20, "the message at fe1")
    fe1.wait_completed(f_id)
    (r_id,) = wait_for(rh.arrivals, 20, "the message at the retry host")
    dest1.start_daemon()
    rh.run(["-qf"]).ok()
    rh.wait_completed(r_id)
    (d_id,) = wait_for(dest1.arrivals, 20, "the message at dest1")
    dest1.wait_completed(d_id)
    assert len({c_id, f_id, r_id, d_id}) == 4
    # What an administrator does: collect the hosts' mainlogs in one place.
    coll = bed.dir / "collected"
    coll.mkdir()
    logs = []
    for name, t in (("dest1", dest1), ("retry", rh), ("client", sender),
                    ("fe1", fe1)):       # any order
        (coll / name).write_text(t.mainlog())
        logs.append(f"{name}:{coll / name}")
    tool = str(PREFIX / "bin" / "tern-stats")
    want = [f"1. client {c_id}", f"2. fe1 {f_id} (from client {c_id})",
            f"3. retry {r_id} (from fe1 {f_id})",
            f"4. dest1 {d_id} (from retry {r_id})"]
    for start in (c_id, f_id, r_id, d_id):
        r = subprocess.run([tool, "--trace", start, *logs],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        heads = [l for l in r.stdout.splitlines() if re.match(r"\d+\. ", l)]
        assert heads == want, r.stdout
        assert "path: client -> fe1 -> retry -> dest1;" in r.stdout, r.stdout
    # fe1's hop: the arrival, one failed try at dest1, the retry host's 250.
    out = r.stdout.splitlines()
    hop = out[out.index(want[1]) + 1:out.index(want[2])]
    assert [re.sub(r"^\s*\S+ \S+\s+\+\d+s\s+(\S+).*", r"\1", l)
            for l in hop] == ["<=", f"H={dest1.ip}", "=>", "Completed"], hop
    assert f" RI={c_id}" in hop[0] and f"[{dest1.ip}] defer (111)" in hop[1]
    assert f'H={rh.ip} [{rh.ip}] C="250 2.0.0 OK id={r_id}"' in hop[2]

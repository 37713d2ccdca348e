"""Retry times across queue runs (issue 4): a deferred address waits for
its retry time, -qf and -M force it, deleting the hints loses no mail,
tern-next shows the retry data, and a passed cutoff bounces."""

import os
import re
import shutil
import time

from tern_helpers import (LOG_HEAD, PREFIX, STANDARD_ALIASES, STANDARD_CONFIG,
                          make_message, split_message, wait_for)

ALIASES = STANDARD_ALIASES + "locked: @DIR@/locked/box\n"


def configure(tern, rules, main=""):
    tern.config(STANDARD_CONFIG + "\nbegin retry\n* * " + rules + "\n",
                main=main, aliases=ALIASES)
    locked = tern.path("locked")
    locked.mkdir()
    tern.own(locked)
    os.chmod(locked, 0o555)        # tern (not root) cannot create box
    return locked


def submit(tern, to="locked@test.example", body=b"retry me\n", odi=True):
    r = tern.run((["-odi"] if odi else ["-odq"]) + [to],
                 input=make_message(to=to, body=body, eol=b"\n"),
                 prog="sendmail").ok()
    (msgid,) = [i for i in tern.arrivals() if i not in submit.seen]
    submit.seen.add(msgid)
    return msgid


submit.seen = set()


def deferrals(tern, msgid):
    return [l for l in tern.log_lines(msgid) if " == " in l]


def test_deferred_waits_for_retry_time_then_delivers(tern):
    submit.seen = set()
    locked = configure(tern, "F,10m,5s")
    msgid = submit(tern)
    (d,) = deferrals(tern, msgid)
    assert re.search(r"== \S+/locked/box <locked@test.example> .*defer \(13\)",
                     d), d
    # it stays on the queue and -bp lists it
    r = tern.run(["-bp"]).ok()
    assert msgid in r.stdout and "locked@test.example" in r.stdout, r
    # tern-next shows the retry record
    r = tern.run(["locked@test.example"], prog="tern-next")
    assert r.returncode == 0, r
    assert "locked@test.example" in r.stdout and "next try at" in r.stdout, r
    # writable again, but a plain -q before the retry time does not try
    os.chmod(locked, 0o755)
    tern.run(["-q"]).ok()
    lines = tern.log_lines(msgid)
    assert any("retry time not reached" in l for l in lines), lines
    assert not (locked / "box").exists()
    assert tern.queue_ids() == [msgid]
    # once the retry time has passed, -q delivers it
    def delivered():
        tern.run(["-q"]).ok()
        return not tern.queue_ids()
    wait_for(delivered, 20, "a -q after the retry time to deliver")
    (raw,) = tern.mbox(locked / "box")
    assert split_message(raw)[1] == b"retry me\n"
    assert len(tern.deliveries(msgid)) == 1
    tern.wait_completed(msgid)
    # success forgets the record
    r = tern.run(["locked@test.example"], prog="tern-next")
    assert r.returncode == 1 and "No retry data" in r.stdout, r


def test_qf_and_M_ignore_retry_times(tern):
    submit.seen = set()
    locked = configure(tern, "F,10m,10m")
    first = submit(tern)
    second = submit(tern, body=b"second\n")
    assert deferrals(tern, second)     # retry time not reached, or tried
    os.chmod(locked, 0o755)
    tern.run(["-q"]).ok()
    assert sorted(tern.queue_ids()) == sorted([first, second])
    tern.run(["-M", second]).ok()      # -M forces one message
    assert tern.queue_ids() == [first]
    tern.run(["-qf"]).ok()             # -qf forces the whole queue
    assert tern.queue_ids() == []
    assert re.search(LOG_HEAD + r"Start queue run: pid=\d+ -qf$",
                     tern.mainlog(), re.M)
    bodies = sorted(split_message(m)[1] for m in tern.mbox(locked / "box"))
    assert bodies == [b"retry me\n", b"second\n"]
    # a forced success, which looked no record up, forgets it too
    r = tern.run(["locked@test.example"], prog="tern-next")
    assert r.returncode == 1 and "No retry data" in r.stdout, r


def test_losing_the_hints_loses_no_mail(tern):
    submit.seen = set()
    locked = configure(tern, "F,10m,10m")
    msgid = submit(tern)
    assert (tern.spool / "db" / "retry").exists()
    shutil.rmtree(tern.spool / "db")
    os.chmod(locked, 0o755)
    tern.run(["-q"]).ok()               # no record: tried at once
    tern.wait_completed(msgid)
    assert len(tern.mbox(locked / "box")) == 1


def test_tidydb_removes_old_records(tern):
    submit.seen = set()
    configure(tern, "F,10m,10m")
    submit(tern)
    r = tern.run(["-t", "1h", tern.spool, "retry"], prog="tern-tidydb",
                 conf=False).ok()
    assert "0 deleted, 1 kept" in r.stdout, r
    time.sleep(2.1)
    r = tern.run(["-t", "1s", tern.spool, "retry"], prog="tern-tidydb",
                 conf=False).ok()
    assert re.search(r"deleted locked@test.example:/\S+/locked/box "
                     r"\(too old\)", r.stdout), r
    r = tern.run(["locked@test.example"], prog="tern-next")
    assert r.returncode == 1, r
    r = tern.run([tern.spool, "../x"], prog="tern-tidydb", conf=False)
    assert r.returncode == 2, r


def test_retry_timeout_bounces(tern):
    submit.seen = set()
    configure(tern, "F,2s,1s")
    msgid = submit(tern)

    def gone():
        tern.run(["-q"]).ok()
        return msgid not in tern.queue_ids()
    wait_for(gone, 30, "the retry cutoff to fail the address")
    assert any(" ** " in l and "<locked@test.example>" in l and
               "retry timeout exceeded" in l
               for l in tern.log_lines(msgid)), tern.log_lines(msgid)
    tern.wait_queue_empty()
    bounces = tern.mbox(tern.user)
    assert len(bounces) == 1
    import email
    import email.policy
    rep = email.message_from_bytes(bounces[0], policy=email.policy.compat32)
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    ds = [p for p in rep.walk()
          if p.get_content_type() == "message/delivery-status"]
    assert len(ds) == 1
    blocks = ds[0].get_payload()
    rcpt = blocks[1]
    assert "locked/box" in rcpt["Final-Recipient"]
    assert rcpt["Original-Recipient"] == "rfc822;locked@test.example"
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"].startswith("5.")
    assert "retry timeout exceeded" in rcpt["Diagnostic-Code"]

"""Message files reused through spool/pool/ (docs/spool.md, "Reusing
message files"): a delivered message's file is emptied and kept, and the
next reception writes into it instead of creating a file; after a power
cut, what the lost renames left in pool/ is recovered (a committed message)
or emptied (anything else); spool_reuse_max caps the pool and 0 turns it
off.  A power cut is played by doing on disk what it can leave behind."""

import os
import re
import shutil
import subprocess

from tern_helpers import (IS_ROOT, PREFIX, STANDARD_ALIASES, make_message,
                          read_mbox, wait_for)

RCPT = "alice@test.example"


def submit(tern, body, rcpts=(RCPT,)):
    """Queue one message with sendmail -odq; return its id."""
    before = set(tern.queue_ids())
    r = tern.run(["-odq", "-f", "sender@example.net", "-i", *rcpts],
                 input=f"Subject: reuse\n\n{body}\n", prog="sendmail")
    assert r.returncode == 0, r
    (msgid,) = set(tern.queue_ids()) - before
    return msgid


def pool(tern):
    """The files in pool/ (its slots 0, 1, ...; not its check mark)."""
    d = tern.spool / "pool"
    return sorted(p for p in d.iterdir() if not p.name.startswith(".")) \
        if d.is_dir() else []


def new_boot(tern):
    """What pool/ sees of a reboot: the mark of this boot's check goes
    (pool/.checked-BOOTID), so the next queue run checks every file."""
    for p in (tern.spool / "pool").glob(".checked-*"):
        p.unlink()


def input_file(tern, msgid):
    return tern.spool / "input" / f"{msgid}-M"


def delivered_bodies(tern, name="alice"):
    """The bodies of the messages in mail/NAME, in order."""
    return [raw.split(b"\n\n", 1)[1].decode().strip()
            for raw in read_mbox(tern.path("mail", name))]


def queue_run(tern):
    tern.run(["-q"]).ok()


def test_delivered_file_is_reused(tern):
    tern.config()
    first = submit(tern, "first body")
    ino = input_file(tern, first).stat().st_ino
    assert pool(tern) == []
    queue_run(tern)
    assert tern.queue_ids() == []
    (kept,) = pool(tern)
    assert re.fullmatch(r"\d+", kept.name), kept.name
    assert kept.stat().st_ino == ino
    data = kept.read_bytes()
    assert len(data) == 65536 and data == bytes(65536)

    second = submit(tern, "second body")
    assert input_file(tern, second).stat().st_ino == ino
    assert pool(tern) == []
    # it reads back as a message: listed, its header section shown
    assert second in tern.run(["-bp"]).ok().stdout
    assert "Subject: reuse" in tern.run(["-Mvh", second]).ok().stdout
    queue_run(tern)
    assert delivered_bodies(tern) == ["first body", "second body"]
    (kept,) = pool(tern)
    assert kept.stat().st_ino == ino
    assert kept.read_bytes() == bytes(65536)
    assert "damaged" not in tern.mainlog() and tern.paniclog() == ""


def test_records_go_after_the_content(tern):
    """A message in a reused file that is deferred keeps its D records and
    message log where readers find them: two recipients, one delivered,
    one deferred; the next run delivers only the second."""
    # bob's delivery is deferred (a pipe that exits 75, EX_TEMPFAIL)
    tern.config(aliases=STANDARD_ALIASES.replace(
        "bob:     @DIR@/mail/bob", "bob: \"|/bin/sh -c 'exit 75'\""))
    submit(tern, "warm up")
    queue_run(tern)
    assert len(pool(tern)) == 1
    msgid = submit(tern, "two rcpts", ("alice@test.example",
                                       "bob@test.example"))
    queue_run(tern)
    assert msgid in tern.queue_ids()
    data = input_file(tern, msgid).read_bytes()
    assert len(data) == 65536
    assert b"\nD alice@test.example\n" in data
    # tern-qgrep reads the records up to the first NUL, as Tern does
    r = subprocess.run([str(PREFIX / "bin" / "tern-qgrep"), "--tern",
                        str(PREFIX / "bin" / "tern"), "-C", str(tern.conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert "D alice@test.example" in r.stdout, r.stdout
    assert "  bob@test.example" in r.stdout, r.stdout
    log = tern.run(["-Mvl", msgid]).ok().stdout
    assert re.search(r"^\S+ \S+ => \S+ <alice@test\.example>", log, re.M), log
    assert "== |/bin/sh -c 'exit 75' <bob@test.example>" in log, log
    tern.config(aliases=STANDARD_ALIASES)
    tern.run(["-M", msgid]).ok()
    assert tern.queue_ids() == []
    assert delivered_bodies(tern).count("two rcpts") == 1
    assert delivered_bodies(tern, "bob") == ["two rcpts"]


def test_power_cut_lost_the_rename_from_pool(tern):
    """The rename pool/ -> input/ of a reception was not on disk yet: the
    committed message sits in pool/ under the old name.  Listed as left in
    pool/ (as a parked message whose reception died) until a queue run
    moves it back, and then delivered."""
    tern.config()
    submit(tern, "warm up")
    queue_run(tern)
    msgid = submit(tern, "lost rename")
    assert len(input_file(tern, msgid).read_bytes()) == 65536
    shutil.move(input_file(tern, msgid), tern.spool / "pool" / "7")
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"
    assert f"{msgid} <" in tern.run(["-bp"]).ok().stdout
    new_boot(tern)
    queue_run(tern)
    assert f"{msgid} spool: recovered from" in tern.mainlog()
    assert delivered_bodies(tern) == ["warm up", "lost rename"]
    assert len(pool(tern)) == 1


def test_power_cut_mixture_is_emptied(tern):
    """What a power cut leaves in a pool file that a reception was filling:
    part old message, part new.  It fails its check record, was never
    acknowledged, and is emptied -- not delivered, not reported damaged in
    input/."""
    tern.config()
    one = submit(tern, "one " * 4000)
    two = submit(tern, "two " * 4000)
    mixed = bytearray(input_file(tern, one).read_bytes())
    other = input_file(tern, two).read_bytes()
    # the second page of the body from the other message
    mixed[4096:8192] = other[4096:8192]
    os.unlink(input_file(tern, one))
    name = tern.spool / "pool" / "3"
    name.write_bytes(bytes(mixed) + bytes(65536 - len(mixed)))
    if IS_ROOT:
        os.chown(name, tern.uid, tern.gid)
    new_boot(tern)
    queue_run(tern)
    assert "pool/3: spool:" in tern.mainlog()
    assert "check record does not match" in tern.mainlog()
    assert name.read_bytes() == bytes(65536)
    assert delivered_bodies(tern) == [("two " * 4000).strip()]


def test_a_check_that_cannot_finish_is_left_to_queue_runs(tern):
    """A pool file the check after a boot cannot recover (here a copy of
    a message still in input/, so that the move back finds its name
    taken): the check is not marked done, and says so once.  Receptions
    then create their files without reading the pool again (before, each
    one read it whole and added a paniclog line); queue runs check again,
    and once one finishes, files are reused again."""
    tern.config()
    submit(tern, "warm up")
    queue_run(tern)
    held = submit(tern, "held")
    tern.run(["-Mf", held]).ok()
    shutil.copy(input_file(tern, held), tern.spool / "pool" / "7")
    if IS_ROOT:
        os.chown(tern.spool / "pool" / "7", tern.uid, tern.gid)
    new_boot(tern)

    def failures():
        return tern.paniclog().count("pool/7 -> ")

    one = submit(tern, "one")
    assert failures() == 1, tern.paniclog()
    assert "did not finish: files are not reused until a queue run" \
        in tern.paniclog()
    assert list((tern.spool / "pool").glob(".failed-*"))
    assert not list((tern.spool / "pool").glob(".checked-*"))
    assert len(input_file(tern, one).read_bytes()) < 65536   # not reused
    two = submit(tern, "two")
    assert failures() == 1, tern.paniclog()
    assert len(input_file(tern, two).read_bytes()) < 65536

    queue_run(tern)                  # checks again, still cannot finish
    assert failures() == 2, tern.paniclog()
    assert sorted(delivered_bodies(tern)) == ["one", "two", "warm up"]

    (tern.spool / "pool" / "7").unlink()     # the administrator's mend
    queue_run(tern)
    assert failures() == 2, tern.paniclog()
    assert list((tern.spool / "pool").glob(".checked-*"))
    assert not list((tern.spool / "pool").glob(".failed-*"))
    three = submit(tern, "three")
    assert len(input_file(tern, three).read_bytes()) == 65536  # reused
    tern.run(["-Mt", held]).ok()
    queue_run(tern)
    assert sorted(delivered_bodies(tern)) == ["held", "one", "three",
                                              "two", "warm up"]


def test_both_renames_lost(tern):
    """A power cut lost the emptying's rename (input/X-M -> pool/N) and the
    taking's (pool/N -> input/Y-M): Y, acknowledged, sits under X's name.
    -bp shows it and -bpc counts it; the queue run that reads X finds Y
    there, moves it to its name and delivers it."""
    tern.config()
    old = submit(tern, "old")
    queue_run(tern)
    new = submit(tern, "new")
    shutil.move(input_file(tern, new), input_file(tern, old))
    listing = tern.run(["-bp"]).ok().stdout
    assert f"{old} *** holds message {new}: the next queue run" in listing, \
        listing
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"
    # tern-qgrep reads it as the message it is
    r = subprocess.run([str(PREFIX / "bin" / "tern-qgrep"), "--tern",
                        str(PREFIX / "bin" / "tern"), "-C", str(tern.conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    assert f"{new} <sender@example.net> *** in the file of {old}: the " \
        "next queue run moves it" in r.stdout, r.stdout
    assert f"  {RCPT}" in r.stdout, r.stdout
    queue_run(tern)
    assert f"{new} spool: recovered from" in tern.mainlog()
    assert delivered_bodies(tern) == ["old", "new"]
    assert tern.queue_ids() == [] and tern.paniclog() == ""


def test_both_renames_lost_found_by_a_selective_run(tern):
    """A -R run reads each message to select it: it moves the message
    found under another's name to its own, selects it by its recipients
    and delivers it; one it does not select is moved and left."""
    tern.config()
    old = submit(tern, "old")
    queue_run(tern)
    other = submit(tern, "for bob", rcpts=("bob@test.example",))
    new = submit(tern, "new")
    shutil.move(input_file(tern, new), input_file(tern, old))
    tern.run(["-R", "alice@"]).ok()
    assert f"{new} spool: recovered from" in tern.mainlog()
    assert delivered_bodies(tern) == ["old", "new"]
    assert tern.queue_ids() == [other]

    before = submit(tern, "again")
    shutil.move(input_file(tern, before), input_file(tern, old))
    tern.run(["-R", "nobody@"]).ok()
    assert f"{before} spool: recovered from" in tern.mainlog()
    assert sorted(tern.queue_ids()) == sorted([other, before])
    assert tern.paniclog() == ""


def test_commands_on_a_name_that_holds_another_message(tern):
    """-M commands name a message: on X's name holding Y they act on
    neither, and say so.  Without the lock (-Mvh) the file is only
    reported; with it (-Mrm) Y is moved to its own name, where it stays
    queued and is delivered by the next run."""
    tern.config()
    old = submit(tern, "old")
    queue_run(tern)
    new = submit(tern, "new")
    shutil.move(input_file(tern, new), input_file(tern, old))
    r = tern.run(["-Mvh", old])
    assert r.returncode != 0, r
    assert f"no message {old}: its file holds message {new}, which the " \
        "next queue run moves" in r.stderr, r
    assert input_file(tern, old).exists()
    r = tern.run(["-Mrm", old])
    assert r.returncode != 0, r
    assert f"no message {old}: its file held message {new}, under its " \
        "own name now" in r.stderr, r
    assert "removed by" not in tern.mainlog()
    assert tern.queue_ids() == [new]
    queue_run(tern)
    assert delivered_bodies(tern) == ["old", "new"]
    assert tern.paniclog() == ""


def test_viewing_while_a_delivery_holds_it(tern):
    """-Mvb, -Mvh and -Mvl take no lock (as in Exim): they work while a
    delivery holds the message, and check afterwards that the file is
    still that message (docs/spool.md, "Readers")."""
    tern.config()
    msgid = submit(tern, "shown")
    import fcntl
    with open(input_file(tern, msgid), "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert tern.run(["-Mvb", msgid]).ok().stdout.strip() == "shown"
        assert "Subject: reuse" in tern.run(["-Mvh", msgid]).ok().stdout
        queue_run(tern)          # the delivery finds it locked
        assert msgid in tern.queue_ids()
    queue_run(tern)
    assert tern.queue_ids() == []
    r = tern.run(["-Mvb", msgid])
    assert r.returncode != 0 and "not found" in r.stderr, r


def test_recovery_with_reuse_off(tern):
    """A committed message left in pool/ by a power cut is recovered even
    when the configuration no longer reuses files, and the other pool
    files are removed."""
    tern.config()
    submit(tern, "warm up")
    queue_run(tern)
    msgid = submit(tern, "left in the pool")
    shutil.move(input_file(tern, msgid), tern.spool / "pool" / "5")
    tern.config(main="spool_reuse_max = 0")
    new_boot(tern)
    queue_run(tern)
    assert f"{msgid} spool: recovered from" in tern.mainlog()
    queue_run(tern)
    assert delivered_bodies(tern) == ["warm up", "left in the pool"]
    assert pool(tern) == []


def test_big_files_and_the_cap(tern):
    """Files over 64 KiB are removed, not kept; at most spool_reuse_max
    files are kept; spool_reuse_max = 0 removes every file."""
    tern.config(main="spool_reuse_max = 2")
    big = submit(tern, "b" * 100000)
    queue_run(tern)
    assert pool(tern) == []
    assert not input_file(tern, big).exists()
    for i in range(3):
        submit(tern, f"small {i}")
    queue_run(tern)
    assert len(pool(tern)) == 2
    assert tern.queue_ids() == [] and not list((tern.spool / "input")
                                              .iterdir())
    # a big message that takes a pool file grows it: removed afterwards
    submit(tern, "c" * 100000)
    assert len(pool(tern)) == 1
    queue_run(tern)
    assert len(pool(tern)) == 1

    tern.config(main="spool_reuse_max = 0")
    submit(tern, "no reuse")
    assert len(pool(tern)) == 1      # not taken
    queue_run(tern)
    assert len(pool(tern)) == 1      # nor given back
    assert delivered_bodies(tern)[-1] == "no reuse"


def test_smtp_reception_reuses(tern):
    """Through the daemon: the file of the first message, delivered by the
    reception process, is the file of the second."""
    tern.config()
    tern.start_daemon()
    assert tern.send(RCPT, make_message(to=RCPT)) == {}
    tern.wait_queue_empty()
    tern.wait_for_log("Completed")
    (kept,) = pool(tern)
    ino = kept.stat().st_ino
    assert tern.send(RCPT, make_message(to=RCPT)) == {}
    tern.wait_queue_empty()
    wait_for(lambda: len(re.findall("Completed", tern.mainlog())) == 2, 20,
             "the second delivery")
    (kept,) = pool(tern)
    assert kept.stat().st_ino == ino
    tern.stop()

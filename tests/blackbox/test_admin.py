"""Administration: -bt, -bv, -bpc, -Mvh, -Mvb, -Mrm."""

import os
import re


def test_bt_shows_director_and_transport(tern):
    tern.config()
    r = tern.run(["-bt", f"{tern.user}@test.example"])
    assert r.returncode == 0, r
    assert "localuser" in r.stdout and "local_mbox" in r.stdout, r
    r = tern.run(["-bt", f"{tern.user}@maildir.example"])
    assert r.returncode == 0, r
    assert "maildir_user" in r.stdout and "local_maildir" in r.stdout, r
    r = tern.run(["-bt", "alice@test.example"])
    assert r.returncode == 0, r
    assert "system_aliases" in r.stdout and str(tern.path("mail", "alice")) \
        in r.stdout, r
    # -bt routes without delivering or queueing anything
    assert not tern.path("mail", "alice").exists()
    assert tern.queue_ids() == []


def test_bt_bv_undeliverable_exit_2(tern):
    tern.config()
    for opt in ("-bt", "-bv"):
        r = tern.run([opt, "nosuchuser@test.example"])
        assert r.returncode == 2, r
        assert "nosuchuser@test.example" in r.stdout + r.stderr
    r = tern.run(["-bv", "alice@test.example"])
    assert r.returncode == 0, r


def queue_one(tern, subject, body):
    r = tern.run(["-odq", "-i", "alice@test.example"],
                 input=f"Subject: {subject}\n\n{body}", prog="sendmail")
    assert r.returncode == 0, r
    ids = tern.queue_ids()
    assert ids, "nothing on the spool after sendmail -odq"
    return ids


def test_view_a_big_body(tern):
    """-Mvb of a body beyond what a reused file holds (64 KiB) is copied
    out in chunks, and is the body exactly: not a byte of the header
    section after it."""
    tern.config()
    body = "".join(f"line {i:06d} of a big body\n" for i in range(8000))
    (msgid,) = queue_one(tern, "big", body)
    r = tern.run(["-Mvb", msgid]).ok()
    assert r.stdout == body


def test_view_and_remove(tern):
    tern.config()
    (msgid,) = queue_one(tern, "admin test", "the body text\n")
    r = tern.run(["-Mvh", msgid]).ok()
    assert "Subject: admin test" in r.stdout
    assert "the body text" not in r.stdout
    r = tern.run(["-Mvb", msgid]).ok()
    assert "the body text" in r.stdout
    assert "Subject: admin test" not in r.stdout

    queue_one(tern, "second", "keep me\n")
    assert tern.run(["-bpc"]).ok().stdout.strip() == "2"
    tern.run(["-Mrm", msgid]).ok()
    assert msgid not in tern.queue_ids()
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"
    assert tern.run(["-Mvh", msgid]).returncode != 0
    assert msgid not in tern.run(["-bp"]).ok().stdout
    # the other message is unharmed and still delivers
    tern.run(["-q"]).ok()
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    assert b"keep me" in raw


def test_bad_message_id_refused(tern):
    tern.config()
    for args in (["-Mrm", "not-an-id"], ["-Mvh", "../../etc/passwd"]):
        r = tern.run(args)
        assert r.returncode != 0, r
        assert re.search(r"not a message id|invalid|bad", r.stderr, re.I), r


def test_renamed_mainlog_is_reopened(tern):
    """Processes keep the mainlog open; a log rotated by renaming (as
    logrotate does, with no signal) gets the daemon's next lines in a new
    file at the old path within a second, and the renamed file keeps the
    old ones."""
    import time
    tern.config()
    tern.start_daemon()
    tern.wait_for_log(r"daemon started")
    assert tern.send(f"{tern.user}@test.example", subject="before") == {}
    tern.wait_queue_empty()
    old = tern.logdir / "mainlog"
    rotated = tern.logdir / "mainlog.1"
    old.rename(rotated)
    time.sleep(1.1)  # the inode check runs at most once a second
    assert tern.send(f"{tern.user}@test.example", subject="after") == {}
    tern.wait_queue_empty()
    tern.wait_for_log(r"Completed")
    new = old.read_text()
    assert "<=" in new and "Completed" in new, new
    before = rotated.read_text()
    assert before.count(" <= ") == 1, before
    assert "daemon started" in before and "daemon started" not in new


def test_message_log_and_one_spool_file(tern):
    """-Mvl shows the message log, kept in the message's one spool file
    (docs/spool.md); -Mf/-Mt add to it; message_logs = false keeps none."""
    tern.config()
    (msgid,) = queue_one(tern, "logged", "text\n")
    inp = tern.spool / "input"
    assert sorted(os.listdir(inp)) == [msgid + "-M"]
    assert not (tern.spool / "msglog").exists()
    tern.run(["-Mf", msgid]).ok()
    tern.run(["-Mt", msgid]).ok()
    log = tern.run(["-Mvl", msgid]).ok().stdout.splitlines()
    assert [l.split(" ", 2)[2].split()[0] for l in log] == \
        ["<=", "frozen", "unfrozen"], log
    assert sorted(os.listdir(inp)) == [msgid + "-M"]
    tern.run(["-Mrm", msgid]).ok()

    tern.config(main="message_logs = false\n")
    (msgid,) = queue_one(tern, "not logged", "text\n")
    r = tern.run(["-Mvl", msgid])
    assert r.returncode != 0 and "no message log" in r.stderr, r
    assert b"\nL " not in (inp / (msgid + "-M")).read_bytes()


def test_huge_message_log_neither_sticks_nor_grows(tern):
    """A message deferred for weeks collects message-log (L) records in
    its spool file with every queue run.  However long that log, the
    message is still listed, shown, delivered and removable (readers look
    only at the header section and the D records), and a rewrite carries
    only the last MiB of the log forward."""
    tern.config()
    (msgid,) = queue_one(tern, "long log", "still here\n")
    spool_file = tern.spool / "input" / f"{msgid}-M"
    line = b"L 2026-11-23 00:00:00 == alice@test.example R=x defer (-52): " \
           b"retry time not reached" + b"." * 40 + b"\n"
    with open(spool_file, "ab") as f:
        f.write(line * (70 * 1024 * 1024 // len(line)))  # 70 MiB
    assert spool_file.stat().st_size > 70 * 1024 * 1024
    assert msgid in tern.run(["-bp"]).ok().stdout
    assert "Subject: long log" in tern.run(["-Mvh", msgid]).ok().stdout
    assert "still here" in tern.run(["-Mvb", msgid]).ok().stdout
    # freezing rewrites the file: the log is cut to about its last MiB
    tern.run(["-Mf", msgid]).ok()
    size = spool_file.stat().st_size
    assert size < 3 * 1024 * 1024, size
    text = spool_file.read_bytes()
    assert b"L (older message log lines dropped)\n" in text
    assert text.endswith(b"\n")
    tern.run(["-Mt", msgid]).ok()
    # and it delivers
    tern.run(["-q"]).ok()
    tern.wait_queue_empty()
    (raw,) = tern.mbox("alice")
    assert b"still here" in raw

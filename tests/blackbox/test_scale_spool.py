"""tern-spool save|restore (issue 10, point 2): messages queued on one
spool are moved to a save directory and back, and delivered exactly once;
a crash half way and a rerun lose and duplicate nothing; a spool in use
is refused."""

import os
import shutil
import subprocess

import pytest

from tern_helpers import (IS_ROOT, PREFIX, make_message, spool_committed,
                          split_message)

N = 6


def spool_tool(tern, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([str(PREFIX / "bin" / "tern-spool"),
                           *map(str, args)], capture_output=True, text=True,
                          timeout=60, env=e)


def queue(tern, n=N):
    for i in range(n):
        tern.run(["-odq", "-f", "sender@example.net", "alice@test.example"],
                 input=make_message(subject=f"saved {i}")).ok()
    ids = tern.queue_ids()
    assert len(ids) == n
    return ids


def wipe(tern):
    """What a reboot does to a tmpfs spool (the logs are elsewhere)."""
    shutil.rmtree(tern.spool)


def deliver_all(tern, ids):
    tern.run(["-q"]).ok()
    tern.wait_queue_empty()
    subjects = sorted(split_message(m)[0]["Subject"]
                      for m in tern.mbox("alice"))
    assert subjects == sorted(f"saved {i}" for i in range(len(ids)))
    for mid in ids:
        assert len([l for l in tern.deliveries(mid) if " => " in l]) == 1


@pytest.fixture
def save_dir(tern):
    d = tern.path("saved")
    return d


def test_save_wipe_restore_delivers_once(tern, save_dir):
    tern.config()
    ids = queue(tern)
    r = spool_tool(tern, "save", tern.spool, save_dir)
    assert r.returncode == 0, r.stderr
    assert f"saved {N} message(s)" in r.stdout
    assert tern.queue_ids() == []
    saved = sorted(n[:-2] for n in os.listdir(save_dir / "input")
                   if n.endswith("-M"))
    assert saved == ids
    # one file per message, nothing else; the message log travels in it
    assert sorted(os.listdir(save_dir / "input")) == [i + "-M" for i in ids]
    assert not (save_dir / "msglog").exists()
    wipe(tern)
    r = spool_tool(tern, "restore", tern.spool, save_dir)
    assert r.returncode == 0, r.stderr
    assert f"restored {N} message(s)" in r.stdout
    assert tern.queue_ids() == ids
    assert os.listdir(save_dir / "input") == []
    if IS_ROOT:
        st = os.stat(tern.spool / "input" / (ids[0] + "-M"))
        assert st.st_uid == tern.uid
    r = tern.run(["-Mvl", ids[0]]).ok()
    assert "<= sender@example.net" in r.stdout
    deliver_all(tern, ids)
    # A second restore finds nothing: nothing is delivered twice.
    r = spool_tool(tern, "restore", tern.spool, save_dir)
    assert r.returncode == 0 and "restored 0 message(s)" in r.stdout


@pytest.mark.parametrize("point", ["committed:3", "unlinked:3",
                                   "committed:1", "unlinked:6"])
def test_crash_half_way_then_rerun(tern, save_dir, point):
    tern.config()
    ids = queue(tern)
    r = spool_tool(tern, "save", tern.spool, save_dir,
                   env={"TERN_SPOOL_TEST_CRASH": point})
    assert r.returncode == 99, (r.stdout, r.stderr)
    # Both places hold all the messages between them.
    there = {n[:-2] for n in os.listdir(save_dir / "input")
             if n.endswith("-M")}
    assert set(ids) <= there | set(tern.queue_ids())
    r = spool_tool(tern, "save", tern.spool, save_dir)
    assert r.returncode == 0, r.stderr
    assert tern.queue_ids() == []
    assert os.listdir(tern.spool / "input") == []
    wipe(tern)
    # Restore is interrupted as well, then run again.
    r = spool_tool(tern, "restore", tern.spool, save_dir,
                   env={"TERN_SPOOL_TEST_CRASH": "committed:2"})
    assert r.returncode == 99
    r = spool_tool(tern, "restore", tern.spool, save_dir)
    assert r.returncode == 0, r.stderr
    assert tern.queue_ids() == ids
    assert sorted(os.listdir(tern.spool / "input")) == [i + "-M" for i in ids]
    assert os.listdir(save_dir / "input") == []
    deliver_all(tern, ids)


def test_refuses_while_tern_runs(tern, save_dir):
    tern.config()
    ids = queue(tern, 2)
    tern.start_daemon()
    r = spool_tool(tern, "save", tern.spool, save_dir)
    assert r.returncode == 1
    assert "in use" in r.stderr and "tern-daemon.pid" in r.stderr
    assert tern.queue_ids() == ids
    tern.stop()
    # A process with a file open in the spool (a delivery that outlives
    # the daemon) blocks it too.
    holder = subprocess.Popen(["sleep", "60"],
                              stdin=open(tern.spool / "input" /
                                         (ids[0] + "-M")))
    try:
        r = spool_tool(tern, "save", tern.spool, save_dir)
        assert r.returncode == 1 and f"pid {holder.pid}" in r.stderr
    finally:
        holder.kill()
        holder.wait()
    # --wait: the holder goes away while tern-spool waits.
    holder = subprocess.Popen(["sh", "-c", "sleep 0.5"],
                              stdin=open(tern.spool / "input" /
                                         (ids[0] + "-M")))
    r = spool_tool(tern, "--wait", "20", "save", tern.spool, save_dir)
    holder.wait()
    assert r.returncode == 0, r.stderr
    assert tern.queue_ids() == []


def test_incomplete_file_is_not_moved(tern, save_dir):
    """A reception that never completed (zero offset) is not a message:
    it stays where it is."""
    tern.config()
    ids = queue(tern, 1)
    half = tern.spool / "input" / (ids[0][:-1] + ("A" if ids[0][-1] != "A"
                                                  else "B") + "-M")
    half.write_bytes(half.name.encode() + b" " + b"0" * 16 + b"\npartial\n")
    assert not spool_committed(half)
    r = spool_tool(tern, "save", tern.spool, save_dir)
    assert r.returncode == 0, r.stderr
    assert "saved 1 message(s)" in r.stdout
    assert os.listdir(save_dir / "input") == [ids[0] + "-M"]
    assert half.exists()

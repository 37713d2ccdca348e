"""Journal and crash recovery (issue 4): kill -9 of a delivery in the
middle of a three-recipient message, then -q: every recipient has the
message exactly once (the one in flight at most twice), never none."""

import os
import signal
import subprocess

from tern_helpers import STANDARD_ALIASES, make_message, proc_stat, wait_for

# Records each delivery; the recipient named in $out/block waits there
# (in flight) until $out/release exists.
PIPE = """#!/bin/sh
out="$1"; name="$2"
tmp="$out/$name.$$"
cat > "$tmp"
if [ "$(cat "$out/block" 2>/dev/null)" = "$name" ] && [ ! -e "$out/release" ]
then
  echo $$ > "$out/started.tmp" && mv "$out/started.tmp" "$out/started"
  while [ ! -e "$out/release" ]; do sleep 0.05; done
fi
cat "$tmp" >> "$out/$name" && rm -f "$tmp"
"""

ALIASES = STANDARD_ALIASES + "".join(
    f'r{i}: "|@DIR@/bin/rec @DIR@/out r{i}"\n' for i in (1, 2, 3))


def count(tern, name):
    p = tern.path("out", name)
    return p.read_bytes().count(b"crash body") if p.exists() else 0


def run_case(tern, block):
    tern.script("rec", PIPE)
    tern.config(aliases=ALIASES)
    tern.write("out/block", block)
    rcpts = [f"r{i}@test.example" for i in (1, 2, 3)]
    tern.run(["-odq"] + rcpts, input=make_message(
        to=", ".join(rcpts), body=b"crash body\n", eol=b"\n"),
        prog="sendmail").ok()
    (msgid,) = tern.queue_ids()
    # the delivery process: killed (with its children) while in flight
    p = tern.popen(["-M", msgid], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_for(tern.path("out", "started").exists, 30,
             f"the delivery to {block} to start")
    pipe_pid = int(tern.path("out", "started").read_text())
    os.killpg(p.pid, signal.SIGKILL)
    try:
        os.kill(pipe_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(10)
    wait_for(lambda: not os.path.exists(f"/proc/{pipe_pid}/cmdline") or
             (proc_stat(pipe_pid) or ("", "Z"))[1] == "Z", 10,
             "the pipe command to die")
    before = {n: count(tern, n) for n in ("r1", "r2", "r3")}
    assert before[block] == 0, before
    assert tern.queue_ids() == [msgid]
    tern.write("out/release", "")
    tern.run(["-q"]).ok()
    tern.wait_completed(msgid)
    after = {n: count(tern, n) for n in ("r1", "r2", "r3")}
    for n in ("r1", "r2", "r3"):
        want = (1, 2) if n == block else (1,)
        assert after[n] in want, (n, before, after)
        if before[n] == 1:   # journaled before the kill: never repeated
            assert after[n] == 1, (n, before, after)
    return before, after


def test_kill_during_second_recipient(tern):
    before, after = run_case(tern, "r2")
    assert after == {"r1": 1, "r2": 1, "r3": 1}, after


def test_kill_during_last_recipient(tern):
    before, after = run_case(tern, "r3")
    # whatever was delivered before the kill was not delivered again
    assert after == {"r1": 1, "r2": 1, "r3": 1}, (before, after)

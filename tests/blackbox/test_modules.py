"""Modules: only what the configuration names is mapped; a module built
for another ABI major is refused, naming both versions."""

import os
import re
import shutil

import pytest

from tern_helpers import (PREFIX, abi_version, STANDARD_ALIASES, STANDARD_CONFIG,
                          TEST_MODULES, ancestors,
                          proc_exe, proc_maps, tern_exe, wait_for)

UNUSED = re.compile(r"ldap|mysql|mariadb", re.I)

# A pipe command that says who started it, then waits (at most 30 s) for
# the test to release it: the delivery is in progress meanwhile.
SLOWPIPE = """#!/bin/sh
out="$1"
echo "$$ $PPID" > "$out/started.tmp" && mv "$out/started.tmp" "$out/started"
i=0
while [ ! -e "$out/release" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
cat > "$out/delivered"
"""


def module_dir():
    """The installed module directory (the one holding appendfile.so)."""
    for lib in sorted(PREFIX.glob("lib*")):
        for cand in [lib / "tern"] + sorted(lib.glob("*/tern")):
            if (cand / "transports" / "appendfile.so").is_file():
                return cand
    pytest.fail(f"no transports/appendfile.so under {PREFIX}/lib*")


def unwanted_maps(pid):
    return sorted(p for p in proc_maps(pid) if UNUSED.search(p))


def test_daemon_and_delivery_map_no_unused_modules(tern):
    tern.script("slowpipe", SLOWPIPE)
    tern.config(aliases=STANDARD_ALIASES +
                'slow: "|@DIR@/bin/slowpipe @DIR@/out"\n')
    daemon = tern.start_daemon()
    maps = proc_maps(daemon.pid)
    assert any(p.endswith("/directors/aliasfile.so") for p in maps), \
        f"the daemon has not loaded the modules its config names: {maps}"
    assert unwanted_maps(daemon.pid) == []

    assert tern.send("slow@test.example") == {}
    started = tern.path("out", "started")
    wait_for(started.exists, 30, "the pipe delivery to start")
    pipe_pid, parent = map(int, started.read_text().split())
    exe = tern_exe()
    delivering = [p for p in ancestors(parent) if proc_exe(p) == exe]
    assert delivering, "the pipe command has no tern ancestor"
    seen_pipe_module = False
    for pid in set(delivering + tern.processes()):
        if proc_exe(pid) != exe:
            continue
        try:
            assert unwanted_maps(pid) == [], f"process {pid}"
            seen_pipe_module |= any(p.endswith("/transports/pipe.so")
                                    for p in proc_maps(pid))
        except FileNotFoundError:
            continue            # it ended meanwhile
    assert seen_pipe_module, "no delivery process maps transports/pipe.so"

    tern.write("out/release", "")
    tern.wait_queue_empty()
    assert b"Subject:" in tern.path("out", "delivered").read_bytes()


TEST_TRANSPORTS = ("abifuture", "abiolder", "abinewer")


def future_module_dir(tern):
    """A module directory: the real modules plus the test transports:
    abifuture.so (built for the next ABI major), abiolder.so and
    abinewer.so (this major, the minor before and after the core's)."""
    for name in TEST_TRANSPORTS:
        so = TEST_MODULES / "transports" / f"{name}.so"
        if not so.is_file():
            pytest.fail(f"{so} is missing: build the test modules "
                        "(tests/modules) and set TERN_TEST_MODULES")
    src = module_dir()
    dst = tern.path("modules")
    for kind in os.listdir(src):
        if not (src / kind).is_dir():
            continue
        (dst / kind).mkdir(parents=True, exist_ok=True)
        for so in (src / kind).glob("*.so"):
            os.symlink(so, dst / kind / so.name)
    (dst / "transports").mkdir(parents=True, exist_ok=True)
    for name in TEST_TRANSPORTS:
        shutil.copy(TEST_MODULES / "transports" / f"{name}.so",
                    dst / "transports" / f"{name}.so")
    tern.own(dst, recursive=True)
    return dst


def config_test_transport(tern, driver):
    """Configure a transport of the test driver `driver` (from
    future_module_dir); its line number in the configuration."""
    moddir = future_module_dir(tern)
    tern.config(STANDARD_CONFIG.replace(
        "begin transports\n",
        f"begin transports\n\ntest_t:\n  driver = {driver}\n", 1),
        main=f"module_directory = {moddir}\n")
    return tern.config_line(f"driver = {driver}")


def test_module_for_other_abi_major_refused(tern):
    line = config_test_transport(tern, "abifuture")
    for args in (["-bP"], ["-bt", "alice@test.example"], ["-bdf"]):
        r = tern.run(args, timeout=20)
        assert r.returncode != 0, r
        err = r.stderr
        assert f"{tern.conf}:{line}:" in err, r
        assert "abifuture" in err and "transports/abifuture.so" in err, r
        major, minor = abi_version()
        assert f"ABI {major + 1}.0" in err and f"ABI {major}.{minor}" in err, r
    assert not tern.spool.exists()


def test_module_for_an_older_abi_minor_loads(tern):
    """The core only grows within a major: a module built for the minor
    before the core's (say, before sync_share, ABI 1.2) is loaded."""
    config_test_transport(tern, "abiolder")
    r = tern.run(["-bP"], timeout=20)
    assert r.returncode == 0, r
    assert "abiolder" not in r.stderr, r


def test_module_for_a_newer_abi_minor_refused(tern):
    line = config_test_transport(tern, "abinewer")
    r = tern.run(["-bP"], timeout=20)
    assert r.returncode != 0, r
    major, minor = abi_version()
    assert f"{tern.conf}:{line}:" in r.stderr, r
    assert f"ABI {major}.{minor + 1}" in r.stderr, r
    assert f"ABI {major}.{minor}" in r.stderr, r


def test_unused_module_never_loaded(tern):
    """The same module directory works when nothing names abifuture:
    tern does not even open it."""
    moddir = future_module_dir(tern)
    tern.config(main=f"module_directory = {moddir}\n")
    r = tern.run(["-bt", "alice@test.example"])
    assert r.returncode == 0, r
    assert "abifuture" not in r.stderr
    r = tern.run(["-bV"]).ok()
    assert str(moddir) in r.stdout
    assert re.search(r"^\s+transports?\s+appendfile\s", r.stdout, re.M), r

"""The SDK: the example drivers build against the *installed* SDK only
(pkg-config tern-sdk, find_package(TernSDK)), load, and deliver; a module
built against an SDK with another ABI major is refused, naming both."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tern_helpers import PREFIX, REPO, STANDARD_ALIASES, STANDARD_CONFIG, \
    abi_version

from test_modules import module_dir


def installed_examples():
    ex = sorted(PREFIX.glob("share/doc/*/examples"))
    assert ex, f"no share/doc/*/examples under {PREFIX}: is the dev " \
        "component installed?"
    return ex[0]


def build_env(tmp):
    """Only the installed prefix: no source tree on any path."""
    pc = [str(p) for p in PREFIX.glob("lib*/pkgconfig")] + \
         [str(p) for p in PREFIX.glob("lib/*/pkgconfig")]
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp),
            "LANG": "C", "PKG_CONFIG_PATH": ":".join(pc),
            "CMAKE_PREFIX_PATH": str(PREFIX)}


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True,
                       text=True, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n" \
        f"{r.stderr}"
    return r


def module_dir_with(tern, extra):
    """A module directory: links to the installed modules plus `extra`
    (a list of (kind, path))."""
    src = module_dir()
    dst = tern.path("modules")
    for kind in os.listdir(src):
        if (src / kind).is_dir():
            (dst / kind).mkdir(parents=True, exist_ok=True)
            for so in (src / kind).glob("*.so"):
                os.symlink(so, dst / kind / so.name)
    for kind, so in extra:
        (dst / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy(so, dst / kind / Path(so).name)
    tern.own(dst, recursive=True)
    return dst


@pytest.fixture
def examples(tern):
    """The installed example sources, built: logfile with CMake, csv with
    the pkg-config Makefile; installed into a private module dir."""
    work = tern.path("sdkwork")
    shutil.copytree(installed_examples(), work)
    env = build_env(work)
    inst = tern.path("exmods")
    run(["cmake", "-S", work / "logfile", "-B", work / "b-logfile",
         f"-DTERN_MODULE_INSTALL_DIR={inst}"], env=env)
    cmds = run(["cmake", "--build", work / "b-logfile", "--verbose"],
               env=env).stdout
    assert str(PREFIX / "include") in cmds or \
        re.search(r"-I\S*/include", cmds), cmds
    assert str(REPO / "sdk") not in cmds, "built against the source tree"
    run(["cmake", "--install", work / "b-logfile"], env=env)
    made = run(["make", "-C", work / "csvlookup"], env=env).stdout
    assert str(REPO / "sdk") not in made
    assert "-fvisibility=hidden" in made and "-shared" in made, made
    logfile = inst / "transports" / "logfile.so"
    csv = work / "csvlookup" / "csv.so"
    assert logfile.is_file() and csv.is_file()
    return {"transports": logfile, "lookups": csv}


def test_pkgconfig_and_cmake_package_describe_the_install():
    env = build_env(PREFIX)
    pc = lambda *a: run(["pkg-config", *a, "tern-sdk"], env=env).stdout.strip()
    major, minor = abi_version()
    assert pc("--variable=abi") == f"{major}.{minor}"
    assert pc("--variable=abi_major") == str(major)
    assert Path(pc("--variable=moduledir")).resolve() == module_dir().resolve()
    inc = pc("--cflags")
    assert inc.startswith("-I")
    assert (Path(inc[2:]) / "tern" / "module.h").is_file()
    assert pc("--libs") == "", "modules link nothing from the core"
    cfg = list(PREFIX.glob("lib*/cmake/TernSDK/TernSDKConfig.cmake"))
    assert cfg and (cfg[0].parent / "TernSDKConfigVersion.cmake").is_file()


def test_list_helper_from_the_installed_sdk(tmp_path):
    """<tern/list.h> compiles alone from the installed SDK, warnings as
    errors, and walks a list as the core reads one: a separator changed
    with "<;", a doubled one standing for itself, blanks and empty items
    dropped, a long item cut to the buffer."""
    env = build_env(tmp_path)
    inc = run(["pkg-config", "--cflags", "tern-sdk"], env=env).stdout.strip()
    src = tmp_path / "walk.c"
    src.write_text("""#include <tern/list.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	const char *list = argv[1];
	char sep = '\\0', buf[8];
	(void)argc;
	while (tern_list_next(&list, &sep, buf, sizeof(buf)) > 0)
		printf("[%s]", buf);
	return 0;
}
""")
    exe = tmp_path / "walk"
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", inc,
         "-o", exe, src], env=env)
    out = lambda lst: run([exe, lst]).stdout
    assert out(" a : b:: c ::: d") == "[a][b: c :][d]"
    assert out("<; x:1 ; ;;y ; verylongitem") == "[x:1][;y][verylon]"
    assert out("") == ""


def test_examples_load_and_deliver(tern, examples):
    moddir = module_dir_with(tern, [(k, v) for k, v in examples.items()])
    user = tern.user
    tern.write("aliases.csv", f"# csv aliases\nteam, alice@test.example, "
               f"{user}@test.example\n")
    conf = STANDARD_CONFIG.replace("begin transports\n", """begin transports

delivery_log:
  driver = logfile
  file = @DIR@/out/deliveries.log
""", 1).replace("begin directors\n", """begin directors

csv_aliases:
  driver = aliasfile
  file = @DIR@/aliases.csv
  search_type = csv
""", 1).replace("localuser:\n  driver = localuser\n", f"""logit:
  driver = localuser
  local_parts = {user}
  transport = delivery_log

localuser:
  driver = localuser
""", 1)
    tern.config(conf, main=f"module_directory = {moddir}\n")
    r = tern.run(["-bV"]).ok()
    assert str(moddir) in r.stdout
    assert re.search(r"^\s+transports?\s+logfile\s+1\.0", r.stdout, re.M), r
    assert re.search(r"^\s+lookups?\s+csv\s+1\.0", r.stdout, re.M), r
    r = tern.run(["-bP", "transport", "delivery_log"]).ok()
    assert "mode = 0600" in r.stdout, r
    r = tern.run(["-f", "boss@example.org", "-i", "team@test.example"],
                 input=b"Subject: sdk\n\nfrom an example driver\n",
                 prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    (msgid,) = tern.arrivals()
    tern.wait_completed(msgid)
    log = tern.path("out", "deliveries.log").read_text()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d " + re.escape(msgid) +
        rf" <boss@example\.org> {re.escape(user)}@test\.example S=\d+\n",
        log), log
    (raw,) = tern.mbox("alice")
    assert b"from an example driver" in raw
    assert re.search(rf"{msgid} => {re.escape(user)}@test\.example "
                     r"<team@test\.example> R=logit T=delivery_log",
                     tern.mainlog())


def test_example_built_for_another_abi_major_is_refused(tern):
    """The logfile example compiled against an SDK whose TERN_ABI_MAJOR is
    one more than the installed one (a copy of the installed headers)."""
    major, minor = abi_version()
    inc = tern.path("future-sdk", "include")
    shutil.copytree(PREFIX / "include" / "tern", inc / "tern")
    h = inc / "tern" / "module.h"
    h.write_text(re.sub(r"#define TERN_ABI_MAJOR\s+\d+",
                        f"#define TERN_ABI_MAJOR    {major + 1}",
                        h.read_text()))
    so = tern.path("future-sdk", "logfile.so")
    run(["cc", "-shared", "-fPIC", "-fvisibility=hidden", f"-I{inc}",
         "-o", so, installed_examples() / "logfile" / "logfile.c"])
    moddir = module_dir_with(tern, [("transports", so)])
    tern.config(STANDARD_CONFIG.replace(
        "begin transports\n",
        "begin transports\n\nlog:\n  driver = logfile\n  file = /tmp/x\n",
        1), main=f"module_directory = {moddir}\n")
    line = tern.config_line("driver = logfile")
    r = tern.run(["-bP"])
    assert r.returncode != 0, r
    assert f"{tern.conf}:{line}:" in r.stderr, r
    assert "transports/logfile.so" in r.stderr, r
    assert f"ABI {major + 1}.{minor}" in r.stderr, r
    assert f"ABI {major}.{minor}" in r.stderr, r

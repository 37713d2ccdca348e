"""The Debian packages: built with dpkg-buildpackage from a copy of the
source tree, their contents and dependencies checked, and tern + tern-ldap
unpacked (dpkg -x) into a throwaway root, where they make a working MTA.
Nothing is installed on this machine's root.

Optional modules (ldap, mysql) are checked strictly once their plugin
source exists in the tree (plugins/lookups/NAME); until then their
package must be empty of modules and tern must still not contain them.

TERN_PKG_WORK: where to build (default: a temporary directory).
"""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("TERN_PKG_WORK") or tempfile.mkdtemp(
    prefix="tern-pkg-"))
OPTIONAL = {"ldap": "tern-ldap", "mysql": "tern-mysql"}
IS_ROOT = os.geteuid() == 0
RUN_AS = "terntest" if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name


def present(mod):
    return (REPO / "plugins" / "lookups" / mod / "CMakeLists.txt").is_file()


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True,
                       text=True, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n" \
        f"{r.stdout[-5000:]}\n{r.stderr[-5000:]}"
    return r


def ignore(dirpath, names):
    top = Path(dirpath) == REPO
    return [n for n in names if n in (".git", "__pycache__", "obj-x86_64-linux-gnu")
            or (top and (n.startswith("build") or n == "debian-build"))]


@pytest.fixture(scope="module")
def debs():
    """{package: path of its .deb}, built once."""
    if WORK.exists():
        shutil.rmtree(WORK)
    src = WORK / "tern"
    shutil.copytree(REPO, src, ignore=ignore, symlinks=True)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2 noddebs",
               LC_ALL="C")
    r = subprocess.run(["dpkg-buildpackage", "-b", "-uc", "-us"], cwd=src,
                       env=env, capture_output=True, text=True)
    (WORK / "build.log").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, f"dpkg-buildpackage failed:\n" \
        f"{(r.stdout + r.stderr)[-8000:]}"
    out = {}
    for deb in WORK.glob("*.deb"):
        out[deb.name.split("_")[0]] = deb
    return out


def contents(deb):
    lines = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    return [re.sub(r" -> .*$", "", l.split(None, 5)[5]).lstrip(".")
            for l in lines]


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def test_packages_built(debs):
    assert {"tern", "tern-ldap", "tern-mysql", "tern-dev"} <= set(debs), debs


def test_tern_contents(debs):
    files = contents(debs["tern"])
    for want in ("/usr/sbin/tern", "/usr/sbin/sendmail", "/usr/bin/mailq",
                 "/usr/bin/newaliases", "/usr/lib/sendmail",
                 "/usr/sbin/tern-stats", "/usr/sbin/tern-what",
                 "/usr/sbin/tern-qgrep", "/etc/tern/tern.conf",
                 "/lib/systemd/system/tern.service",
                 "/etc/logrotate.d/tern"):
        assert want in files, f"{want} not in tern: {files}"
    mods = [f for f in files if f.endswith(".so")]
    for kind, name in (("directors", "aliasfile"), ("directors", "localuser"),
                       ("transports", "appendfile"), ("transports", "pipe"),
                       ("lookups", "lsearch")):
        assert any(f.endswith(f"/tern/{kind}/{name}.so") for f in mods), mods
    assert not [f for f in mods if re.search(r"/(ldap|mysql)\.so$", f)]
    assert not [f for f in files if f.startswith("/usr/include")]
    ctrl = WORK / "ctrl"
    run(["dpkg-deb", "-e", debs["tern"], ctrl])
    assert "/etc/tern/tern.conf" in (ctrl / "conffiles").read_text()
    post = (ctrl / "postinst").read_text()
    assert "adduser --system --group" in post
    assert "install -d -o tern -g tern -m 0751 /var/spool/tern" in post
    assert "install -d -o tern -g tern -m 3733 /var/spool/tern/maildrop" \
        in post
    assert "/var/log/tern" in post
    assert "tern.service" in post, "dh_installsystemd enables the unit"


def test_tern_dependencies(debs):
    dep = field(debs["tern"], "Depends")
    assert not re.search(r"ldap|mysql|mariadb", dep), dep
    assert "adduser" in dep and "python3" in dep
    for f in ("Provides", "Conflicts", "Replaces"):
        assert "mail-transport-agent" in field(debs["tern"], f)


@pytest.mark.parametrize("mod", sorted(OPTIONAL))
def test_optional_module_package(debs, mod):
    pkg = OPTIONAL[mod]
    files = [f for f in contents(debs[pkg]) if not f.endswith("/")]
    mods = [f for f in files if f.endswith(".so")]
    dep = field(debs[pkg], "Depends")
    version = field(debs["tern"], "Version")
    assert f"tern (= {version})" in dep, dep
    if present(mod):
        assert len(mods) == 1 and mods[0].endswith(f"/tern/lookups/{mod}.so"),\
            f"{pkg} must ship only the {mod} module: {files}"
        lib = "libldap" if mod == "ldap" else r"(libmysqlclient|libmariadb)"
        assert re.search(lib, dep), dep
    else:
        assert mods == [], files


def test_dev_package(debs):
    files = contents(debs["tern-dev"])
    assert "/usr/include/tern/module.h" in files
    assert any(f.endswith("/pkgconfig/tern-sdk.pc") for f in files)
    assert any(f.endswith("/cmake/TernSDK/TernSDKConfig.cmake")
               for f in files)
    assert not [f for f in files if f.endswith(".so")]


@pytest.fixture(scope="module")
def root(debs):
    """tern and tern-ldap unpacked into a throwaway root."""
    r = WORK / "root"
    for pkg in ("tern", "tern-ldap"):
        run(["dpkg", "-x", debs[pkg], r])
    for d in [r] + [p for p in r.rglob("*") if p.is_dir()]:
        d.chmod(0o755)
    return r


def ensure_run_as():
    """As root, RUN_AS must exist: on a fresh machine this test may be the
    first to need it (the black-box tests create it too)."""
    if IS_ROOT:
        subprocess.run(["useradd", "--system", "--user-group", "--shell",
                        "/usr/sbin/nologin", "--no-create-home", RUN_AS],
                       capture_output=True)
        pwd.getpwnam(RUN_AS)  # KeyError here, not a puzzle later


def as_user(argv):
    if IS_ROOT:
        return ["setpriv", f"--reuid={RUN_AS}", f"--regid={RUN_AS}",
                "--init-groups", "--"] + argv
    return argv


def test_throwaway_root_is_a_working_mta(root):
    tern = root / "usr" / "sbin" / "tern"
    r = run([tern, "-C", "/dev/null", "-bV"])
    assert re.search(rf"^Module directory: {re.escape(str(root))}/usr/lib/"
                     r"\S+/tern$", r.stdout, re.M), \
        f"modules found relative to the unpacked binary:\n{r.stdout}"
    assert re.search(r"^\s+transports?\s+appendfile\s", r.stdout, re.M), \
        r.stdout
    if present("ldap"):
        assert re.search(r"^\s+lookups?\s+ldap\s", r.stdout, re.M), r.stdout
    else:
        assert "ldap" not in r.stdout

    d = Path(tempfile.mkdtemp(prefix="tern-pkgroot-", dir="/tmp"))
    d.chmod(0o755)
    conf = d / "tern.conf"
    conf.write_text(f"""\
primary_hostname = pkg.example
qualify_domain = pkg.example
local_domains = pkg.example
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
tern_user = {RUN_AS}
begin transports
mbox:
  driver = appendfile
  file = {d}/mail/$local_part
begin directors
localuser:
  driver = localuser
  transport = mbox
""")
    for sub in ("mail", "log"):
        (d / sub).mkdir()
    if IS_ROOT:
        ensure_run_as()
        shutil.chown(d, RUN_AS)
        for sub in ("mail", "log"):
            shutil.chown(d / sub, RUN_AS)
    sendmail = root / "usr" / "sbin" / "sendmail"
    assert os.readlink(sendmail) == "tern"
    assert os.readlink(root / "usr" / "bin" / "mailq") == "../sbin/tern"
    msg = f"To: {RUN_AS}@pkg.example\nSubject: pkg\n\nfrom the package\n"
    r = subprocess.run(as_user([str(sendmail), "-C", str(conf), "-odq",
                                "-t", "-i"]), input=msg, text=True,
                       capture_output=True)
    assert r.returncode == 0, r
    r = subprocess.run(as_user([str(root / "usr" / "bin" / "mailq"), "-C",
                                str(conf)]), capture_output=True, text=True)
    assert r.returncode == 0 and f"{RUN_AS}@pkg.example" in r.stdout, r
    r = subprocess.run(as_user([str(tern), "-C", str(conf), "-q"]),
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    deadline = time.monotonic() + 20
    box = d / "mail" / RUN_AS
    while not (box.exists() and b"from the package" in box.read_bytes()):
        assert time.monotonic() < deadline, \
            f"not delivered: {(d / 'log' / 'mainlog').read_text()}"
        time.sleep(0.05)
    if present("ldap"):
        # the module loads from the package with its library: a dead
        # server is "cannot tell now", not "module missing"
        r = subprocess.run(as_user([
            str(tern), "-C", str(conf), "-be",
            "${lookup ldap{ldap://127.0.0.1:1/dc=x?cn?base}{found}{none}}"]),
            capture_output=True, text=True)
        assert "module not found" not in r.stderr, r
        assert "ldap" in (r.stdout + r.stderr).lower(), r
    shutil.rmtree(d, ignore_errors=True)

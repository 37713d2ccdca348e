"""pytest fixtures for Tern's black-box tests.

Environment (set by tests/CMakeLists.txt for ctest):
  TERN_PREFIX        the staged installation (bin/tern, lib/tern/...)
  TERN_TEST_MODULES  test-only modules (transports/abifuture.so)
  TERN_TEST_NSS_DIR  libnss_ternfail.so.2, a failing NSS source (tests/nss)
  TERN_SANITIZE      1 in the ASan/UBSan build
  TERN_KEEP          1: keep every test directory (default: only failures)

Rootless mode: when the tests run as root, every tern process runs as the
unprivileged user `terntest` (created here once), and the test directories
belong to it.  Otherwise tern runs as the user running the tests.
"""

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from tern_helpers import IS_ROOT, PREFIX, TEST_USER, Tern, ensure_user


@pytest.fixture(scope="session")
def test_user():
    """The user tern runs as in rootless mode (terntest when root)."""
    tern = PREFIX / "bin" / "tern"
    if not os.access(tern, os.X_OK):
        pytest.fail(f"{tern} is not installed: set TERN_PREFIX to a staged "
                    f"installation (cmake --install build --prefix DIR)")
    if IS_ROOT:
        return ensure_user(TEST_USER)
    return pwd.getpwnam(TEST_USER)


@pytest.fixture(scope="session")
def base_dir():
    """/tmp/tern-bb-XXXX: the parent of every test's directory (not under
    pytest's tmp_path, which is mode 0700 and so closed to terntest)."""
    d = Path(tempfile.mkdtemp(prefix="tern-bb-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    if os.environ.get("TERN_KEEP") != "1" and not any(d.iterdir()):
        shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item; add the instance's logs
    to the report of a failing test."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed and rep.when == "call":
        t = item.funcargs.get("tern") if hasattr(item, "funcargs") else None
        if isinstance(t, Tern):
            try:
                rep.sections.append(("tern instance", t.describe()))
            except Exception as e:   # never hide the real failure
                rep.sections.append(("tern instance", f"(describe: {e})"))


def _finish(request, made):
    """Stop and kill what the instances started; keep their directories
    when the test failed (or TERN_KEEP=1); fail on a sanitizer report
    from any of their processes."""
    reports = []
    for t in made:
        try:
            t.stop(timeout=5)
        except AssertionError:
            pass
        t.kill_all()
        r = t.sanitizer_reports()
        if r:
            reports.append(f"{t.dir}:\n{r}")
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    if not failed and not reports and os.environ.get("TERN_KEEP") != "1":
        for t in made:
            shutil.rmtree(t.dir, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer report(s) in " + "\n".join(reports)[:20000])


@pytest.fixture
def tern(request, base_dir, test_user):
    """A fresh Tern instance in its own directory with its own port.  Its
    processes are killed afterwards whatever happened; a sanitizer report
    from any of them fails the test."""
    t = Tern(Path(tempfile.mkdtemp(prefix="t", dir=base_dir)))
    try:
        yield t
    finally:
        _finish(request, [t])


@pytest.fixture
def three_terns(request, base_dir, test_user):
    """Three instances, each like `tern`'s, for tests across hosts."""
    made = [Tern(Path(tempfile.mkdtemp(prefix="h", dir=base_dir)))
            for _ in range(3)]
    try:
        yield made
    finally:
        _finish(request, made)

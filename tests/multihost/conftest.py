"""Fixtures for the multi-host tests: `bed` is a fresh test bed (bed.py)
per test, torn down whatever happened; a failing test's report gets every
host's logs.  Needs root (network namespaces); CI runs as root, anyone
else gets the tests skipped with that reason.

Environment: TERN_PREFIX (the staged installation, as for tests/blackbox),
TERN_KEEP=1 keeps the test directories.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bed import IS_ROOT, PREFIX, Bed

# tern_helpers' ensure_user, through bed's sys.path entry.
from tern_helpers import TEST_USER, ensure_user


@pytest.fixture(scope="session")
def test_user():
    tern = PREFIX / "bin" / "tern"
    if not os.access(tern, os.X_OK):
        pytest.fail(f"{tern} is not installed: set TERN_PREFIX to a staged "
                    f"installation (cmake --install build --prefix DIR)")
    if not IS_ROOT:
        pytest.skip("the multi-host bed needs root (network namespaces)")
    if not shutil.which("ip"):
        pytest.fail("iproute2 (ip) is missing: scripts/deps-test.txt")
    return ensure_user(TEST_USER)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed and rep.when == "call":
        b = item.funcargs.get("bed") if hasattr(item, "funcargs") else None
        if isinstance(b, Bed):
            try:
                rep.sections.append(("multi-host bed", b.describe()))
            except Exception as e:   # never hide the real failure
                rep.sections.append(("multi-host bed", f"(describe: {e})"))


@pytest.fixture
def bed(request, test_user):
    d = Path(tempfile.mkdtemp(prefix="tern-mh-", dir="/tmp"))
    os.chmod(d, 0o755)
    b = Bed(d)
    try:
        yield b
    finally:
        b.close()
    reports = "\n".join(t.sanitizer_reports() for t in b.terns).strip()
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    if not failed and not reports and os.environ.get("TERN_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)
    if reports:
        pytest.fail(f"sanitizer report(s) in {d}:\n{reports[:20000]}")

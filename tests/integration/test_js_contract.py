"""The JavaScript SDK's own tests, under Node (``npm test`` in clients/web
runs the same): every structure of tests/vectors/e2e.json decoded and
encoded with @msgpack/msgpack's defaults, byte for byte; every end-to-end
vector reproduced; the client's logic against a scripted socket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"


def test_the_javascript_sdks_own_tests_pass() -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "build" / "src" / "index.js").exists():
        unavailable("node and the built SDK (tests/run installs and builds it)")
    done = subprocess.run(
        [node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

"""The browser's side of the contract: clients/web's Node tests decode and
encode every structure of tests/vectors/e2e.json with @msgpack/msgpack's
defaults, byte for byte (``npm test`` in clients/web runs the same)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"


def test_javascript_reads_and_writes_every_structure_byte_for_byte() -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "@msgpack" / "msgpack").is_dir():
        unavailable("node and clients/web/node_modules (tests/run installs them)")
    done = subprocess.run(
        [node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

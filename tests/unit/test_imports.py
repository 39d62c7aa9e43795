"""Dependencies point one way: server -> protocol, storage; clients -> protocol.

Each package is imported, every module of it, in a fresh interpreter, so what
another test imported cannot hide or fake a dependency.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    package = importlib.import_module(sys.argv[1])
    modules = [sys.argv[1]]
    for info in pkgutil.walk_packages(package.__path__, prefix=sys.argv[1] + "."):
        if info.name.endswith(".__main__"):  # runs the CLI when imported
            continue
        importlib.import_module(info.name)
        modules.append(info.name)
    loaded = {name.partition(".")[0] for name in sys.modules}
    print(json.dumps({"modules": modules, "loaded": sorted(loaded)}))
    """
)

FORBIDDEN = {
    "protocol": {
        "asyncio",
        "starlette",
        "sqlalchemy",
        "redis",
        "nacl",
        "storage",
        "server",
        "clients",
    },
    "storage": {"server", "clients", "protocol", "starlette"},
    "clients": {"server", "storage", "sqlalchemy", "starlette"},
    "server": {"clients"},  # nacl is allowed: server/auth.py hashes passwords with argon2id
}


def probe(package: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package: str) -> None:
    found = probe(package)
    assert len(found["modules"]) > 1, "walked no modules"
    assert not FORBIDDEN[package] & set(found["loaded"])


def test_the_probe_sees_imports() -> None:
    # The check above is only worth something if the probe would notice.
    found = probe("server")
    assert {"protocol", "storage", "starlette", "asyncio"} <= set(found["loaded"])


def direct_imports(path: Path) -> set[str]:
    """The modules ``path`` imports itself (not what they import)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


HANDLERS = sorted((ROOT / "server" / "rpc").glob("*.py"))


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.name)
def test_handlers_know_no_sql(path: Path) -> None:
    """A handler reaches the database through ``storage`` (a ``WriteTx`` in a
    write): it neither builds statements nor holds a driver's connection."""
    sql = {name for name in direct_imports(path) if name.partition(".")[0] == "sqlalchemy"}
    assert not sql, f"{path.name} imports {sorted(sql)}"


def test_the_handler_check_sees_imports() -> None:
    assert "sqlalchemy.ext.asyncio" in direct_imports(ROOT / "storage" / "tx.py")


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.name)
def test_handlers_do_not_import_each_other(path: Path) -> None:
    """What two handlers share is an operation (``server.ops``); a handler
    imports only the handler signature from its own package."""
    allowed = {"server.rpc.base"} | ({"server.rpc"} if path.name == "__init__.py" else set())
    sideways = {
        name
        for name in direct_imports(path)
        if name.startswith("server.rpc") and name not in allowed
    }
    assert not sideways, f"{path.name} imports {sorted(sideways)}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "server").rglob("*.py") if "rpc" not in p.parts),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_only_the_socket_reaches_the_handlers(path: Path) -> None:
    """Operations, HTTP endpoints and chores never call a handler."""
    reaching = {name for name in direct_imports(path) if name.startswith("server.rpc")}
    if path.name == "socket.py":
        assert reaching == {"server.rpc"}
    else:
        assert not reaching, f"{path.relative_to(ROOT)} imports {sorted(reaching)}"

"""Every text the web app shows is defined in French and English, once: a
key used with ``t("...")`` or ``tn("...")`` but defined nowhere would show
the bare key to a patient."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "clients" / "web" / "app" / "src"
USED = re.compile(r"\b(tn?)\(\s*\"([a-z0-9_.]+)\"")
DEFINED = re.compile(r"^\s*\"([a-z0-9_.]+)\":\s*\[", re.MULTILINE)
PAIR = re.compile(r"^\s*\"[a-z0-9_.]+\":\s*\[\s*\"([^\"]*)\",\s*\"([^\"]*)\"", re.MULTILINE)


def sources() -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(APP.rglob("*.ts*"))}


def defined_keys() -> Counter[str]:
    return Counter(key for text in sources().values() for key in DEFINED.findall(text))


def test_every_text_used_is_defined() -> None:
    defined = defined_keys()
    missing = set()
    uses = [(path, use) for path, text in sources().items() for use in USED.findall(text)]
    assert len(uses) > 100  # the pattern still finds the app's texts
    for path, (function, key) in uses:
        wanted = [f"{key}.one", f"{key}.other"] if function == "tn" else [key]
        missing |= {f"{path.name}: {k}" for k in wanted if k not in defined}
    assert missing == set()


def test_no_text_is_defined_twice() -> None:
    assert [key for key, count in defined_keys().items() if count > 1] == []


def test_every_text_has_both_languages() -> None:
    empty = [pair for text in sources().values() for pair in PAIR.findall(text) if not all(pair)]
    assert empty == []

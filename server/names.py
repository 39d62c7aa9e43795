"""People's names compared as people read them: without case or accents
(``Hélène`` is ``HELENE``), any mark between words a separator
(``Roux-Martin`` is ``roux martin``)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["folded", "words"]


def folded(text: str) -> str:
    """``text`` without accents or case, its words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[\W_]+", plain)).strip()


def words(text: str) -> set[str]:
    return set(folded(text).split())

"""The public directory of health professionals (RPPS), as the Annuaire
Santé publishes it: ``PS_LibreAcces_Personne_activite``, one line per
activity of a professional, fields separated by ``|``, a header line first.

Columns are found by their header, so a file whose columns moved or grew
still reads; the four this needs must be there (``DirectoryError``
otherwise). A professional with several activities has several
consecutive lines: they make one ``Professional``, with the first
specialty given. Lines without an identifier or a name are skipped and
counted.

``names_match`` is how an admin's verification checks that an account is
the professional it claims to be: every word of the directory's first and
last name is in the account's name, ignoring case, accents, hyphens and
titles (``Dr Hélène Roux-Martin`` is ``ROUX-MARTIN Hélène``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from server.names import words
from storage.professionals import Professional

__all__ = ["DirectoryError", "Reading", "names_match", "read_directory"]

ID = "Identifiant PP"
LAST_NAME = "Nom d'exercice"
FIRST_NAME = "Prénom d'exercice"
PROFESSION = "Libellé profession"
SPECIALTY = "Libellé savoir-faire"  # optional: not every profession has one
REQUIRED = (ID, LAST_NAME, FIRST_NAME, PROFESSION)
TITLES = frozenset({"dr", "docteur", "doctor", "pr", "professeur", "professor", "m", "mme"})


class DirectoryError(ValueError):
    """The file is not the directory's extract (a required column is missing)."""


@dataclass(slots=True)
class Reading:
    """How many lines were read, and how many skipped (no identifier or name)."""

    lines: int = 0
    skipped: int = 0


def read_directory(lines: Iterable[str], reading: Reading | None = None) -> Iterator[Professional]:
    """The professionals of the extract's ``lines`` (text, header first)."""
    reading = reading if reading is not None else Reading()
    rows = csv.reader(lines, delimiter="|", quoting=csv.QUOTE_NONE)
    header = next(rows, None)
    columns = _columns(header or [])
    current: Professional | None = None
    for row in rows:
        reading.lines += 1
        found = _professional(row, columns)
        if found is None:
            reading.skipped += 1
            continue
        if current is None or current.rpps != found.rpps:
            if current is not None:
                yield current
            current = found
        elif not current.specialty and found.specialty:
            current = replace(current, specialty=found.specialty)
    if current is not None:
        yield current


def _columns(header: list[str]) -> dict[str, int]:
    names = {name.strip().lstrip("\ufeff"): index for index, name in enumerate(header)}
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise DirectoryError(f"not an RPPS extract: no column {', '.join(missing)}")
    return {name: names[name] for name in (*REQUIRED, SPECIALTY) if name in names}


def _professional(row: list[str], columns: dict[str, int]) -> Professional | None:
    def cell(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    rpps, last_name = cell(ID), cell(LAST_NAME)
    if not rpps.isdigit() or not last_name:
        return None
    return Professional(rpps, last_name, cell(FIRST_NAME), cell(PROFESSION), cell(SPECIALTY))


def names_match(account_name: str, professional: Professional) -> bool:
    """Whether the account's name carries the directory's first and last names."""
    wanted = words(professional.last_name) | words(professional.first_name)
    return bool(wanted - TITLES) and wanted - TITLES <= words(account_name)

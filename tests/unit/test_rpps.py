"""Reading the RPPS extract as the Annuaire Santé publishes it, and the
name check an admin's verification makes against it."""

from __future__ import annotations

import pytest

from server.rpps import DirectoryError, Reading, names_match, read_directory
from storage.professionals import Professional

# The published header (PS_LibreAcces_Personne_activite), its first columns.
HEADER = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|"
    "Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|"
    "Code profession|Libellé profession|Code catégorie professionnelle|"
    "Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|"
    "Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|"
)


def line(rpps: str, last: str, first: str, profession: str, specialty: str = "") -> str:
    cells = ["8", rpps, f"8{rpps}", "DR", "Docteur", "M", "Monsieur", last, first, "10"]
    cells += [profession, "C", "Civil", "S", "Spécialité ordinale", "SM54", specialty, "L"]
    return "|".join([*cells, "Libéral", ""])


def test_a_professional_with_several_activities_is_one_with_the_first_specialty() -> None:
    reading = Reading()
    lines = [
        "\ufeff" + HEADER,
        line("10001234567", "ROUX-MARTIN", "Hélène", "Médecin"),
        line("10001234567", "ROUX-MARTIN", "Hélène", "Médecin", "Médecine générale"),
        line("10001234567", "ROUX-MARTIN", "Hélène", "Médecin", "Pédiatrie"),
        line("", "SANS NUMÉRO", "Anne", "Médecin"),
        line("10007654321", "NGUYEN", "Bao", "Pharmacien"),
    ]
    assert list(read_directory(lines, reading)) == [
        Professional("10001234567", "ROUX-MARTIN", "Hélène", "Médecin", "Médecine générale"),
        Professional("10007654321", "NGUYEN", "Bao", "Pharmacien"),
    ]
    assert (reading.lines, reading.skipped) == (5, 1)


def test_columns_are_found_by_their_header_wherever_they_are() -> None:
    header = "Libellé profession|Prénom d'exercice|Nom d'exercice|Identifiant PP"
    found = list(read_directory([header, "Sage-femme|Inès|Belkacem|10009998887"]))
    assert found == [Professional("10009998887", "Belkacem", "Inès", "Sage-femme")]


def test_a_file_that_is_not_the_extract_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(DirectoryError, match="Nom d'exercice"):
        list(read_directory(["Identifiant PP|Prénom d'exercice|Libellé profession", "1|A|B"]))
    with pytest.raises(DirectoryError):
        list(read_directory([]))


@pytest.mark.parametrize(
    ("account", "matches"),
    [
        ("Dr Hélène Roux-Martin", True),
        ("helene ROUX MARTIN", True),
        ("Docteur Roux-Martin Hélène", True),
        ("Dr Hélène Roux", False),  # half a last name
        ("Dr Hélène Martin-Roux Dupont", True),  # more words are allowed
        ("Dr Paul Roux-Martin", False),
        ("", False),
    ],
)
def test_the_account_must_carry_the_directorys_first_and_last_names(
    account: str, matches: bool
) -> None:
    professional = Professional("10001234567", "ROUX-MARTIN", "Hélène", "Médecin")
    assert names_match(account, professional) is matches

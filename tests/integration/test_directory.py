"""Practitioners verified against the public directory of health
professionals (RPPS): the published extract imported with ``carehub admin
import-rpps``, an admin finding a number and verifying with it over the
socket, every way that is refused, and the profession patients then read."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from protocol.practice import (
    PractitionerParams,
    PractitionerSearchParams,
    ProfessionalsParams,
    VerifyParams,
)
from tests.integration.test_practice import refused
from tests.support.server import RunningServer
from tests.unit.test_rpps import HEADER, line

ROUX = line("10001234567", "ROUX-MARTIN", "Hélène", "Médecin", "Médecine générale")
NGUYEN = line("10007654321", "NGUYEN", "Bao", "Pharmacien")


async def carehub(server: RunningServer, *args: str) -> tuple[int, dict[str, Any] | str]:
    """``carehub ARGS --db <the server's>``: its exit status, and what it printed."""
    command = [sys.executable, "-m", "server", *args, "--db", server.db]
    done = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server.env
    )
    out, err = await done.communicate()
    assert done.returncode is not None
    return done.returncode, json.loads(out) if done.returncode == 0 else err.decode()


def extract(path: Path, *lines: str) -> str:
    path.write_text("\n".join(["\ufeff" + HEADER, *lines]) + "\n", encoding="utf-8")
    return str(path)


async def test_an_admin_verifies_a_practitioner_against_the_imported_directory(
    make_server: Any, tmp_path: Path
) -> None:
    server: RunningServer = make_server()
    file = extract(tmp_path / "rpps.txt", ROUX, NGUYEN)
    assert await carehub(server, "admin", "import-rpps", file) == (
        0,
        {"professionals": 2, "lines": 2, "skipped": 0, "removed": 0, "kept": 0},
    )
    helene = await server.user("practitioner", "Dr Hélène Roux-Martin", verified=False)
    namesake = await server.user("practitioner", "Hélène Roux Martin", verified=False)
    async with server.client(await server.admin()) as admin:
        found = (await admin.call("admin.professionals", ProfessionalsParams("roux"))).professionals
        assert [(p.rpps, p.specialty, p.account) for p in found] == [
            ("10001234567", "Médecine générale", None)
        ]
        unknown = admin.call("admin.verify", VerifyParams(helene.user_id, "10000000000"))
        await refused(unknown, "rpps_unknown")
        someone_else = admin.call("admin.verify", VerifyParams(helene.user_id, "10007654321"))
        error = await refused(someone_else, "rpps_mismatch")
        assert error.details["directory_name"] == "Bao NGUYEN"

        await admin.call("admin.verify", VerifyParams(helene.user_id, "10001234567"))
        taken = admin.call("admin.verify", VerifyParams(namesake.user_id, "10001234567"))
        await refused(taken, "rpps_taken")
        found = (
            await admin.call("admin.professionals", ProfessionalsParams("1000123"))
        ).professionals
        assert [p.account for p in found] == [helene.user_id]

    async with server.client(namesake) as own:  # only admins search the directory
        await refused(own.call("admin.professionals", ProfessionalsParams("roux")), "role")
    # Half the directory gone from a new extract: kept unless asked (a file cut short?).
    shorter = extract(tmp_path / "new.txt", ROUX)
    assert await carehub(server, "admin", "import-rpps", shorter) == (
        0,
        {"professionals": 1, "lines": 1, "skipped": 0, "removed": 0, "kept": 1},
    )
    assert await carehub(server, "admin", "import-rpps", shorter, "--prune") == (
        0,
        {"professionals": 1, "lines": 1, "skipped": 0, "removed": 1, "kept": 0},
    )
    status, said = await carehub(
        server, "admin", "verify", server.usernames[namesake.user_id], "--rpps", "10001234567"
    )
    assert status == 1 and "another account" in str(said)


async def test_patients_read_the_profession_of_practitioners_verified_with_their_number(
    make_server: Any, tmp_path: Path
) -> None:
    server: RunningServer = make_server()
    await carehub(server, "admin", "import-rpps", extract(tmp_path / "rpps.txt", ROUX, NGUYEN))
    helene = await server.user("practitioner", "Dr Hélène Roux-Martin", verified=False)
    bao = await server.user("practitioner", "Bao Nguyen", verified=False)
    by_name = await server.user("practitioner", "Dr Hélène Rouxel")  # verified without a number
    async with server.client(await server.admin()) as admin:
        await admin.call("admin.verify", VerifyParams(helene.user_id, "10001234567"))
        await admin.call("admin.verify", VerifyParams(bao.user_id, "10007654321"))

    async with server.client(await server.user("patient")) as patient:
        found = await patient.call("practitioners.search", PractitionerSearchParams("roux"))
        assert {p.id: (p.profession, p.specialty) for p in found.practitioners} == {
            helene.user_id: ("Médecin", "Médecine générale"),
            by_name.user_id: ("", ""),
        }
        profile = await patient.call("practitioners.get", PractitionerParams(helene.user_id))
        assert (profile.profession, profile.specialty) == ("Médecin", "Médecine générale")
        unlisted = await patient.call("practitioners.get", PractitionerParams(by_name.user_id))
        assert (unlisted.profession, unlisted.specialty) == ("", "")
        pharmacist = await patient.call("practitioners.get", PractitionerParams(bao.user_id))
        assert (pharmacist.profession, pharmacist.specialty) == ("Pharmacien", "")

        # A number the directory no longer lists keeps the account verified, without a profession.
        shorter = extract(tmp_path / "new.txt", ROUX)
        assert (await carehub(server, "admin", "import-rpps", shorter, "--prune"))[0] == 0
        pharmacist = await patient.call("practitioners.get", PractitionerParams(bao.user_id))
        assert (pharmacist.profession, pharmacist.refusal) == ("", "not_a_patient")


async def test_a_deployment_may_verify_against_the_directory_only(make_server: Any) -> None:
    server: RunningServer = make_server(practitioners_need_rpps=True)
    doctor = await server.user("practitioner", "Dr Ana Lima", verified=False)
    async with server.client(await server.admin()) as admin:
        await refused(admin.call("admin.verify", VerifyParams(doctor.user_id)), "rpps_required")


async def test_a_file_that_is_not_the_extract_changes_nothing(
    make_server: Any, tmp_path: Path
) -> None:
    server: RunningServer = make_server()
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("nom;prenom\nRoux;Hélène\n", encoding="utf-8")
    status, said = await carehub(server, "admin", "import-rpps", str(wrong))
    assert status == 2 and "not an RPPS extract" in str(said)
    status, said = await carehub(server, "admin", "import-rpps", extract(tmp_path / "empty.txt"))
    assert status == 2 and "no professional in it" in str(said)

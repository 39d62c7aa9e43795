"""A patient's date of birth, and a practitioner finding their own patient
by name and date of birth (``patients.find``): namesakes told apart,
nobody else's patient found, every refusal typed."""

from __future__ import annotations

import uuid

from clients.http import login, register
from protocol.errors import ErrorCode
from protocol.methods import AccountParams
from protocol.model import Empty
from protocol.practice import CareParams, PatientFindParams, RelativeParams, UserParams
from tests.integration.test_practice import refused
from tests.support.server import PASSWORD, RunningServer


async def _patient(server: RunningServer, name: str, born: str) -> int:
    username = f"patient-{uuid.uuid4().hex[:10]}"
    user = await register(server.base_url, username, PASSWORD, name, birth_date=born)
    server.usernames[user.id] = username
    return user.id


async def test_a_practitioner_finds_their_patient_among_namesakes(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    marie_1960 = await _patient(server, "Marie Dupont", "1960-03-14")
    marie_1987 = await _patient(server, "Marie Dupont", "1987-03-14")
    helene = await _patient(server, "Hélène Dupont-Leroy", "1987-03-14")
    stranger = await _patient(server, "Marie Dupont", "1987-03-14")  # nobody's patient here
    parent = await server.user("patient")
    async with server.client(parent) as own:
        child = await own.call(
            "relatives.add", RelativeParams("Marie Dupont", "child", "oui", "2019-06-01")
        )
    async with server.client(doctor) as desk:
        for patient in (marie_1960, marie_1987, helene, child.user):
            await desk.call("patients.add", UserParams(patient))
    for patient in (marie_1960, marie_1987, helene):
        me = await login(server.base_url, server.usernames[patient], PASSWORD)
        async with server.client(me) as client:
            await client.call("care.accept", CareParams(doctor.user_id))
    async with server.client(parent) as own:
        await own.call("care.accept", CareParams(doctor.user_id, child.user))

    async with server.client(doctor) as desk:

        async def found(name: str, born: str) -> list[int]:
            answer = await desk.call("patients.find", PatientFindParams(name, born))
            return [p.user for p in answer.patients]

        assert await found("marie dupont", "1987-03-14") == [marie_1987]
        assert await found("Dupont", "1987-03-14") == [helene, marie_1987]
        assert await found("HELENE", "1987-03-14") == [helene]  # without accents, any case
        assert await found("Marie", "2019-06-01") == [child.user]  # a relative's profile
        assert await found("Marie", "1999-01-01") == []
        assert stranger not in await found("Marie Dupont", "1987-03-14")
        bad_day = desk.call("patients.find", PatientFindParams("Marie", "1987-02-30"))
        await refused(bad_day, None, ErrorCode.INVALID)
    async with server.client(parent) as own:
        await refused(own.call("patients.find", PatientFindParams("Marie", "1987-03-14")), "role")


async def test_a_patient_sets_their_date_of_birth(server: RunningServer) -> None:
    me = await server.user("patient")
    async with server.client(me) as client:
        assert (await client.call("account.get", Empty())).birth_date is None
        await refused(
            client.call("account.set", AccountParams(birth_date="2001-02-29")),
            None,
            ErrorCode.INVALID,
        )
        await refused(
            client.call("account.set", AccountParams(birth_date="2199-01-01")),
            None,
            ErrorCode.INVALID,
        )
        account = await client.call("account.set", AccountParams(birth_date="2001-02-28"))
        assert (account.birth_date, account.locale) == ("2001-02-28", "fr")  # the language stays

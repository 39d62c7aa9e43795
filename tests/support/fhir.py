"""A FHIR server's transaction endpoint, on loopback: no FHIR server is
packaged for this machine (HAPI and others come from Maven Central or
Docker Hub), so this one records each request and applies the parts of the
R4 transaction rules a filing relies on (http.html#transaction):

- the Bundle and every resource in it validate (``fhir.resources``, R4B);
- ``POST`` with ``ifNoneExist`` creates only if no resource matches;
  ``PUT Kind?identifier=...`` updates the one match, or creates; two
  matches are a 412;
- ``urn:uuid:`` references name an entry of the bundle, conditional ones
  (``Kind?identifier=...``) exactly one resource, stored or in the bundle,
  and ``Kind/id`` a stored one; else the whole transaction fails (400);
- all or nothing: a failed transaction stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.pushservice import serving

__all__ = ["FakeFhir", "Refused", "fhir_service"]

TOKEN = "records-device-token"


class Refused(Exception):
    def __init__(self, status: int, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status


@dataclass
class FakeFhir:
    base_url: str = ""
    bundles: list[dict[str, Any]] = field(default_factory=list)  # every request, as received
    store: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Kind/id" -> resource
    refusals: list[str] = field(default_factory=list)
    outage: int = 0  # answer this many requests with 503 before taking any
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def until(self, done: Callable[[], bool], timeout: float = 30) -> None:
        """Wait for requests until ``done()``."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(done), timeout)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for key, r in self.store.items() if key.startswith(f"{kind}/")]

    def find(self, kind: str, system: str, value: str) -> dict[str, Any]:
        (found,) = _matching(self.store, kind, f"identifier={system}|{value}")
        return self.store[found]

    def transact(self, body: bytes) -> dict[str, Any]:
        bundle = json.loads(body)
        self.bundles.append(bundle)
        _validate(bundle)
        store = copy.deepcopy(self.store)  # all or nothing
        urls, responses = {}, []
        for entry in bundle["entry"]:
            key, status = _apply(store, entry)
            urls[entry["fullUrl"]] = key
            responses.append({"response": {"status": status, "location": f"{key}/_history/1"}})
        for entry in bundle["entry"]:
            stored = store[urls[entry["fullUrl"]]]
            for holder in _references(stored):
                holder["reference"] = _resolve(store, urls, holder["reference"])
        self.store = store
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


def _validate(bundle: Any) -> None:
    if not isinstance(bundle, dict) or bundle.get("type") != "transaction":
        raise Refused(400, "not a transaction Bundle")
    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValueError, KeyError) as error:
        raise Refused(400, f"invalid: {error}") from error


def _apply(store: dict[str, dict[str, Any]], entry: dict[str, Any]) -> tuple[str, str]:
    """Store the entry's resource as its request says: its key, its status."""
    request, resource = entry["request"], copy.deepcopy(entry["resource"])
    kind = resource["resourceType"]
    if request["method"] == "POST" and request.get("ifNoneExist"):
        if request["url"] != kind:
            raise Refused(400, f"POST to {request['url']} with a {kind}")
        found = _matching(store, kind, request["ifNoneExist"])
        if found:
            return found[0], "200 OK"
        return _create(store, kind, resource), "201 Created"
    if request["method"] == "PUT" and "?" in request["url"]:
        url_kind, search = request["url"].split("?", 1)
        if url_kind != kind:
            raise Refused(400, f"PUT to {url_kind} with a {kind}")
        found = _matching(store, kind, search)
        if len(found) > 1:
            raise Refused(412, f"{request['url']} matches {len(found)} resources")
        if found:
            resource["id"] = found[0].split("/")[1]
            store[found[0]] = resource
            return found[0], "200 OK"
        return _create(store, kind, resource), "201 Created"
    raise Refused(400, f"a filing must be idempotent, not {request['method']} {request['url']}")


def _create(store: dict[str, dict[str, Any]], kind: str, resource: dict[str, Any]) -> str:
    resource["id"] = str(len(store) + 1)
    store[f"{kind}/{resource['id']}"] = resource
    return f"{kind}/{resource['id']}"


def _matching(store: dict[str, dict[str, Any]], kind: str, search: str) -> list[str]:
    name, _, token = search.partition("=")
    system, _, value = token.rpartition("|")
    if name != "identifier" or not system or not value:
        raise Refused(400, f"unsupported search {search}")
    return [
        key
        for key, resource in store.items()
        if key.startswith(f"{kind}/")
        and {"system": system, "value": value} in resource.get("identifier", [])
    ]


def _references(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"reference": ...}`` in a resource."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value
        for inner in value.values():
            yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def _resolve(store: dict[str, dict[str, Any]], urls: dict[str, str], reference: str) -> str:
    if reference.startswith("urn:uuid:"):
        if reference not in urls:
            raise Refused(400, f"{reference} is not an entry of the bundle")
        return urls[reference]
    if "?" in reference:
        kind, search = reference.split("?", 1)
        found = _matching(store, kind, search)
        if len(found) != 1:
            raise Refused(400 if not found else 412, f"{reference} matches {len(found)}")
        return found[0]
    if reference not in store:
        raise Refused(400, f"{reference} does not exist")
    return reference


def _app(fhir: FakeFhir) -> Starlette:
    async def transaction(request: Request) -> Response:
        try:
            return await _answer(request)
        finally:
            async with fhir.changed:
                fhir.changed.notify_all()

    async def _answer(request: Request) -> Response:
        if fhir.outage:
            fhir.outage -= 1
            return Response("down for maintenance", status_code=503)
        try:
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                raise Refused(401, "no valid token")
            if request.headers.get("content-type") != "application/fhir+json":
                raise Refused(415, "not application/fhir+json")
            return JSONResponse(fhir.transact(await request.body()))
        except Refused as refused:
            fhir.refusals.append(str(refused))
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "processing", "diagnostics": str(refused)}],
            }
            return JSONResponse(outcome, status_code=refused.status)

    return Starlette(routes=[Route("/fhir/", transaction, methods=["POST"])])


@contextlib.asynccontextmanager
async def fhir_service() -> AsyncIterator[FakeFhir]:
    fhir = FakeFhir()
    async with serving(_app(fhir)) as origin:
        fhir.base_url = f"{origin}/fhir/"
        yield fhir

"""HTTP endpoints: register, login, logout, health. JSON in and out.

Bodies are ``protocol.http``'s; every error is an ``ErrorBody``
(``{code, message, details}``) with the status of its code.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from protocol.codec import DECODE_FAILURES
from protocol.http import (
    STATUS,
    ErrorBody,
    LoginBody,
    LoginResult,
    RegisterBody,
    RegisterResult,
    UserInfo,
)
from protocol.model import MAX_INT, Role
from protocol.texts import locale_of
from server.auth import hash_token, new_token
from server.broker.control import SessionsEnded
from server.context import Context
from server.errors import (
    ServerError,
    conflict,
    forbidden,
    invalid,
    not_found,
    too_large,
    unauthorized,
    unavailable,
)
from server.ops.access import grants_of
from server.ops.accounts import authenticate, pass_second_factor, per, throttle
from server.ops.audit import export_audit
from server.ops.files import readable_file
from server.ops.profile import past_day
from storage.accounts import Session, UserRecord
from storage.errors import Conflict

__all__ = [
    "audit_export",
    "download",
    "healthz",
    "json_response",
    "login",
    "logout",
    "read_body",
    "refused",
    "register",
    "source_of",
    "store_unavailable",
]

MAX_BODY = 16 * 1024
SELF_REGISTERING = frozenset({Role.PATIENT, Role.PRACTITIONER})


async def refused(request: Request, exc: Exception) -> Response:
    """Any endpoint's ``ServerError`` (the app's exception handler): its
    status and ``ErrorBody``, the refusal worded in ``Accept-Language``."""
    assert isinstance(exc, ServerError)
    wanted = request.headers.get("accept-language", "").split(",")[0].split(";")[0]
    body = ErrorBody(exc.code, exc.worded(locale_of(wanted)), exc.details)
    return json_response(body, STATUS.get(exc.code, 500))


def json_response(body: msgspec.Struct, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


async def read_body(request: Request, type_: type[Any]) -> Any:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise too_large(f"body over {MAX_BODY} bytes")
    try:
        return msgspec.json.decode(raw, type=type_)
    except DECODE_FAILURES as exc:  # absurd nesting included
        raise invalid(str(exc) or type(exc).__name__) from None


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """Any endpoint, while the database is out of reach: 503, retry later."""
    return await refused(request, unavailable("storage unavailable, retry later"))


def _user_info(user: UserRecord) -> UserInfo:
    return UserInfo(user.id, user.username, user.display_name, Role(user.role))


async def register(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    body: RegisterBody = await read_body(request, RegisterBody)
    if not ctx.settings.open_registration or body.role not in SELF_REGISTERING:
        raise forbidden(f"{body.role} accounts are created by an admin")
    per_hour = ctx.settings.registrations_per_source_per_hour
    await throttle(ctx, (f"register-from:{source_of(request)}", per(per_hour, 3600)))
    try:
        user = await ctx.store.accounts.create_user(
            body.username,
            body.display_name,
            body.role,
            await ctx.passwords.hash(body.password),
            ctx.clock.ms(),
            body.locale.value,
            body.email,
            past_day(body.birth_date, ctx.clock.ms()) if body.birth_date else None,
        )
    except Conflict as exc:
        raise conflict(str(exc)) from None
    return json_response(RegisterResult(_user_info(user)), 201)


async def login(request: Request) -> Response:
    """A session for one device: the password, then the second factor if
    the account has one (``server.ops.accounts``)."""
    ctx: Context = request.app.state.ctx
    body: LoginBody = await read_body(request, LoginBody)
    found = await authenticate(ctx, body.username, body.password, source_of(request))
    await pass_second_factor(ctx, found, body.otp)
    user = found.user
    token, now = new_token(), ctx.clock.ms()
    expires_at = now + ctx.settings.token_ttl_seconds * 1000
    try:
        device_id = await ctx.store.accounts.open_session(
            user.id,
            hash_token(token),
            now,
            expires_at,
            checked=found.password_hash,
            device_id=body.device_id,
            device_name=body.device_name,
        )
    except Conflict:  # a new password, or a deactivation, won the race
        raise unauthorized("the account changed meanwhile: log in again") from None
    if device_id is None:
        raise forbidden("that device is not yours")
    return json_response(LoginResult(token, _user_info(user), device_id, expires_at))


def source_of(request: Request) -> str:
    """The client's address (uvicorn reads a trusted proxy's X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


async def _bearer(request: Request) -> tuple[Session, bytes]:
    """The valid session the request's bearer token stands for."""
    ctx: Context = request.app.state.ctx
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token_hash = hash_token(token)
    session = await ctx.store.accounts.session(token_hash) if scheme.lower() == "bearer" else None
    if session is None or session.revoked or session.expires_at <= ctx.clock.ms():
        raise unauthorized("a valid bearer token is required")
    return session, token_hash


async def logout(request: Request) -> Response:
    """Revoke the bearer token and close the sockets opened with it."""
    ctx: Context = request.app.state.ctx
    session, token_hash = await _bearer(request)
    await ctx.store.accounts.revoke(token_hash, ctx.clock.ms())
    # Every node closes the sockets it holds for this token (this one included).
    await ctx.broker.publish_control(SessionsEnded(session.user.id, [token_hash], "logged out"))
    return Response(status_code=204)


async def download(request: Request) -> Response:
    """An encrypted document, whole or by ``Range``, for members of its thread."""
    ctx: Context = request.app.state.ctx
    session, _ = await _bearer(request)
    user = session.user
    grants = await grants_of(ctx, user.id, Role(user.role))
    record = await readable_file(ctx, user.id, grants, request.path_params["file"])
    return FileResponse(
        ctx.blobs.path(record.id),
        media_type="application/octet-stream",
        headers={"cache-control": "private, no-store"},
    )


async def audit_export(request: Request) -> Response:
    """A thread's whole audit trail as JSON, for its practitioners."""
    ctx: Context = request.app.state.ctx
    session, _ = await _bearer(request)
    thread_id = _path_id(request, "thread")
    user = session.user
    grants = await grants_of(ctx, user.id, Role(user.role))
    entries = await export_audit(ctx, user.id, grants, thread_id)
    return Response(
        msgspec.json.encode(entries),
        media_type="application/json",
        headers={
            "cache-control": "private, no-store",
            "content-disposition": f'attachment; filename="thread-{thread_id}-audit.json"',
        },
    )


def _path_id(request: Request, name: str) -> int:
    """An id from the path (``{name:int}``), within the wire's bounds."""
    value: int = request.path_params[name]
    if not 1 <= value <= MAX_INT:
        raise not_found(f"no such {name}")
    return value


async def healthz(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    store = "ok"
    with contextlib.suppress(Exception):
        store = "down"
        await ctx.store.db.ping()
        store = "ok"
    broker = "ok" if ctx.broker.healthy else "down"
    status = "ok" if store == broker == "ok" else "degraded"
    body = {
        "status": "draining" if ctx.draining else status,
        "store": store,
        "broker": broker,
        "broker_kind": type(ctx.broker).__name__,
        "connections": len(ctx.hub),
        "commits": ctx.writer.commits,
        "writes": ctx.writer.operations,
        "commit_ms": ctx.writer.commit_times.buckets(),
        "delivered": ctx.hub.delivered,  # the stream position this node's sockets are at
        "unheard": ctx.broker.unheard,  # publications a routed node had no subscription for
    }
    # 503 takes the node out of a load balancer's rotation: it cannot store, or it is stopping.
    serving = store == "ok" and not ctx.draining
    return JSONResponse(body, status_code=200 if serving else 503)

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
from server.broker.control import TokenRevoked
from server.context import Context
from server.errors import (
    ServerError,
    busy,
    conflict,
    forbidden,
    invalid,
    not_found,
    too_large,
    unauthorized,
    unavailable,
)
from server.ops.access import grants_of
from server.ops.audit import export_audit
from server.ops.files import readable_file
from server.ratelimit import Limit
from storage.accounts import Session, UserRecord
from storage.errors import Conflict

__all__ = [
    "audit_export",
    "download",
    "healthz",
    "login",
    "logout",
    "refused",
    "register",
    "store_unavailable",
]

MAX_BODY = 16 * 1024
LOGIN_LIMIT = Limit(rate=1 / 6, burst=10)  # per username: 10, then one every 6 s
SELF_REGISTERING = frozenset({Role.PATIENT, Role.PRACTITIONER})


async def refused(request: Request, exc: Exception) -> Response:
    """Any endpoint's ``ServerError`` (the app's exception handler): its
    status and ``ErrorBody``, the refusal worded in ``Accept-Language``."""
    assert isinstance(exc, ServerError)
    wanted = request.headers.get("accept-language", "").split(",")[0].split(";")[0]
    body = ErrorBody(exc.code, exc.worded(locale_of(wanted)), exc.details)
    return _json(body, STATUS.get(exc.code, 500))


def _json(body: msgspec.Struct, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


async def _body(request: Request, type_: type[Any]) -> Any:
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
    body: RegisterBody = await _body(request, RegisterBody)
    if not ctx.settings.open_registration or body.role not in SELF_REGISTERING:
        raise forbidden(f"{body.role} accounts are created by an admin")
    per_hour = ctx.settings.registrations_per_source_per_hour
    await _throttle(ctx, (f"register-from:{_source(request)}", _per(per_hour, 3600)))
    try:
        user = await ctx.store.accounts.create_user(
            body.username,
            body.display_name,
            body.role,
            await ctx.passwords.hash(body.password),
            ctx.clock.ms(),
            body.locale.value,
        )
    except Conflict as exc:
        raise conflict(str(exc)) from None
    return _json(RegisterResult(_user_info(user)), 201)


async def login(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    body: LoginBody = await _body(request, LoginBody)
    per_minute = ctx.settings.logins_per_source_per_minute
    await _throttle(
        ctx,
        (f"login:{body.username}", LOGIN_LIMIT),
        (f"login-from:{_source(request)}", _per(per_minute, 60)),
    )
    found = await ctx.store.accounts.credentials(body.username)
    if not await ctx.passwords.verify(found[1] if found else None, body.password) or not found:
        raise unauthorized("wrong username or password")
    user = found[0]
    token, now = new_token(), ctx.clock.ms()
    expires_at = now + ctx.settings.token_ttl_seconds * 1000
    device_id = await ctx.store.accounts.open_session(
        user.id,
        hash_token(token),
        now,
        expires_at,
        device_id=body.device_id,
        device_name=body.device_name,
    )
    if device_id is None:
        raise forbidden("that device is not yours")
    return _json(LoginResult(token, _user_info(user), device_id, expires_at))


def _source(request: Request) -> str:
    """The client's address (uvicorn reads a trusted proxy's X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


def _per(count: float, seconds: float) -> Limit:
    """A burst of ``count``, then ``count`` every ``seconds``."""
    return Limit(rate=count / seconds, burst=max(1, int(count)))


async def _throttle(ctx: Context, *charges: tuple[str, Limit]) -> None:
    """Spend from every bucket or none (on all nodes together)."""
    wait = await ctx.broker.limits.take(*charges)
    if wait:
        raise busy("too many attempts", retry_after_ms=int(wait * 1000) + 1)


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
    await ctx.broker.publish_control(TokenRevoked(session.user.id, token_hash))
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
        "delivered": ctx.hub.delivered,  # the stream position this node's sockets are at
        "unheard": ctx.broker.unheard,  # publications a routed node had no subscription for
    }
    # 503 takes the node out of a load balancer's rotation: it cannot store, or it is stopping.
    serving = store == "ok" and not ctx.draining
    return JSONResponse(body, status_code=200 if serving else 503)

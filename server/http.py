"""HTTP endpoints: register, login, logout, health. JSON in and out.

Errors are ``{"code": ErrorCode, "message": str}`` with a matching status.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from protocol.errors import CloseCode, ErrorCode
from protocol.model import Role
from server.auth import hash_password, hash_token, new_token, verify_password
from server.context import Context
from server.errors import ServerError
from server.ratelimit import Limit
from server.rpc.attachments import readable_file
from server.rpc.base import grants_of
from server.rpc.trace import export_audit
from storage.accounts import Session
from storage.errors import Conflict

__all__ = ["download", "healthz", "login", "logout", "register"]

MAX_BODY = 16 * 1024
LOGIN_LIMIT = Limit(rate=1 / 6, burst=10)
Username = Annotated[str, Meta(min_length=3, max_length=64, pattern=r"^[a-zA-Z0-9_.@+-]+$")]
Password = Annotated[str, Meta(min_length=8, max_length=256)]
SELF_REGISTERING = frozenset({Role.PATIENT, Role.PRACTITIONER})
_STATUS = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class RegisterBody(msgspec.Struct):
    username: Username
    password: Password
    display_name: Annotated[str, Meta(min_length=1, max_length=128)]
    role: Role = Role.PATIENT


class LoginBody(msgspec.Struct):
    username: Annotated[str, Meta(max_length=64)]
    password: Annotated[str, Meta(max_length=256)]
    device_name: Annotated[str, Meta(max_length=64)] = ""
    device_id: int | None = None  # log in again on a known device


def _error(exc: ServerError) -> JSONResponse:
    body = {"code": exc.code.value, "message": exc.message, **exc.details}
    return JSONResponse(body, status_code=_STATUS.get(exc.code, 500))


async def _body(request: Request, type_: type[Any]) -> Any:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ServerError(ErrorCode.TOO_LARGE, f"body over {MAX_BODY} bytes")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.MsgspecError as exc:
        raise ServerError(ErrorCode.INVALID, str(exc)) from None


def _user_json(user: Any) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "name": user.display_name, "role": user.role}


async def register(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    try:
        body: RegisterBody = await _body(request, RegisterBody)
        if not ctx.settings.open_registration or body.role not in SELF_REGISTERING:
            raise ServerError(ErrorCode.FORBIDDEN, f"{body.role} accounts are created by an admin")
        try:
            user = await ctx.store.accounts.create_user(
                body.username,
                body.display_name,
                body.role,
                await hash_password(body.password),
                ctx.clock.ms(),
            )
        except Conflict as exc:
            raise ServerError(ErrorCode.CONFLICT, str(exc)) from None
    except ServerError as exc:
        return _error(exc)
    return JSONResponse({"user": _user_json(user)}, status_code=201)


async def login(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    try:
        body: LoginBody = await _body(request, LoginBody)
        await _throttle(request, body.username)
        found = await ctx.store.accounts.credentials(body.username)
        # An unknown username costs a verification too: timing tells nothing.
        stored = found[1] if found else await _decoy_hash(request)
        if not await verify_password(stored, body.password) or found is None:
            raise ServerError(ErrorCode.UNAUTHORIZED, "wrong username or password")
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
            raise ServerError(ErrorCode.FORBIDDEN, "that device is not yours")
    except ServerError as exc:
        return _error(exc)
    return JSONResponse(
        {"token": token, "user": _user_json(user), "device": device_id, "expires_at": expires_at}
    )


async def _decoy_hash(request: Request) -> str:
    state = request.app.state
    if getattr(state, "decoy_hash", None) is None:
        state.decoy_hash = await hash_password(new_token())
    return str(state.decoy_hash)


async def _throttle(request: Request, username: str) -> None:
    """At most a burst of 10 login attempts per username, then one every 6 s
    (on all nodes together)."""
    ctx: Context = request.app.state.ctx
    wait = await ctx.broker.limits.take((f"login:{username}", LOGIN_LIMIT))
    if wait:
        raise ServerError(
            ErrorCode.RATE_LIMITED, "too many attempts", retry_after_ms=int(wait * 1000) + 1
        )


async def _bearer(request: Request) -> tuple[Session, bytes]:
    """The valid session the request's bearer token stands for."""
    ctx: Context = request.app.state.ctx
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token_hash = hash_token(token)
    session = await ctx.store.accounts.session(token_hash) if scheme.lower() == "bearer" else None
    if session is None or session.revoked or session.expires_at <= ctx.clock.ms():
        raise ServerError(ErrorCode.UNAUTHORIZED, "a valid bearer token is required")
    return session, token_hash


async def logout(request: Request) -> Response:
    """Revoke the bearer token and close the sockets opened with it."""
    ctx: Context = request.app.state.ctx
    try:
        session, token_hash = await _bearer(request)
    except ServerError as exc:
        return _error(exc)
    await ctx.store.accounts.revoke(token_hash, ctx.clock.ms())
    for conn in ctx.hub.of(session.user.id):
        if conn.token_hash == token_hash:
            conn.close(CloseCode.TOKEN_REVOKED, "logged out")
    return Response(status_code=204)


async def download(request: Request) -> Response:
    """An encrypted document, whole or by ``Range``, for members of its thread."""
    ctx: Context = request.app.state.ctx
    try:
        session, _ = await _bearer(request)
        user = session.user
        grants = await grants_of(ctx, user.id, Role(user.role))
        record = await readable_file(ctx, user.id, grants, request.path_params["file"])
    except ServerError as exc:
        return _error(exc)
    return FileResponse(
        ctx.blobs.path(record.id),
        media_type="application/octet-stream",
        headers={"cache-control": "private, no-store"},
    )


async def audit_export(request: Request) -> Response:
    """A thread's whole audit trail as JSON, for its practitioners."""
    ctx: Context = request.app.state.ctx
    try:
        session, _ = await _bearer(request)
        thread_id = int(request.path_params["thread"])
        user = session.user
        grants = await grants_of(ctx, user.id, Role(user.role))
        entries = await export_audit(ctx, user.id, grants, thread_id)
    except ServerError as exc:
        return _error(exc)
    return Response(
        msgspec.json.encode(entries),
        media_type="application/json",
        headers={
            "cache-control": "private, no-store",
            "content-disposition": f'attachment; filename="thread-{thread_id}-audit.json"',
        },
    )


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
    }
    # 503 takes the node out of a load balancer's rotation: it cannot store, or it is stopping.
    serving = store == "ok" and not ctx.draining
    return JSONResponse(body, status_code=200 if serving else 503)

"""python-socketio on uvicorn (its documented ASGI deployment): clients
``join`` a room, and a ``chat`` event is emitted to the room's other members.

    uvicorn benchmarks.peers.socketio_app:app
"""

from __future__ import annotations

from typing import Any

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid: str, room: str) -> None:
    await sio.enter_room(sid, room)
    await sio.emit("joined", room, to=sid)


@sio.event
async def chat(sid: str, data: dict[str, Any]) -> None:
    await sio.emit("chat", data, room=data["room"], skip_sid=sid)

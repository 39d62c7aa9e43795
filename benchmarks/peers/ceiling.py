"""The ceiling: a Starlette WebSocket broadcast on uvicorn, with no auth, no
storage and no protocol. Every binary frame goes to the room's other sockets.

    uvicorn benchmarks.peers.ceiling:app
"""

from __future__ import annotations

from collections import defaultdict

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

rooms: defaultdict[str, set[WebSocket]] = defaultdict(set)


async def room(websocket: WebSocket) -> None:
    name = websocket.path_params["room"]
    await websocket.accept()
    members = rooms[name]
    members.add(websocket)
    try:
        while True:
            data = await websocket.receive_bytes()
            for member in members:
                if member is not websocket:
                    await member.send_bytes(data)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)


app = Starlette(routes=[WebSocketRoute("/ws/{room}", room)])

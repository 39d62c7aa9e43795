"""carehub Python SDK: accounts over HTTP, everything else over one WebSocket."""

from clients.client import Client, ClientEvent
from clients.errors import AuthError, CallError, CarehubError, Disconnected
from clients.http import Credentials, login, logout, register

__all__ = [
    "AuthError",
    "CallError",
    "CarehubError",
    "Client",
    "ClientEvent",
    "Credentials",
    "Disconnected",
    "login",
    "logout",
    "register",
]

"""carehub Python SDK: accounts over HTTP, everything else over one WebSocket."""

from clients.client import UNREADABLE, Client, ClientEvent, Unreadable
from clients.errors import AuthError, CallError, CarehubError, Disconnected
from clients.http import Credentials, login, logout, register

__all__ = [
    "UNREADABLE",
    "AuthError",
    "CallError",
    "CarehubError",
    "Client",
    "ClientEvent",
    "Credentials",
    "Disconnected",
    "Unreadable",
    "login",
    "logout",
    "register",
]

"""ASGI entry point for servers other than ``carehub serve``, e.g.::

    daphne -b 127.0.0.1 -p 8000 server.asgi:app

Settings come from ``CAREHUB_*`` environment variables.
"""

from server.app import create_app
from server.gc_tuning import tune_gc
from server.settings import Settings

app = create_app(Settings.load())
tune_gc()

"""Django Channels, following its chat tutorial, served by daphne.
``CHANNEL_LAYER=redis`` (with ``REDIS_URL``) selects channels_redis instead
of the in-memory layer."""

"""carehub server: the Starlette app, hub, broker, policy and RPC handlers."""

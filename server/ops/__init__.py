"""Domain operations: what handlers (``server.rpc``), HTTP endpoints and
chores share. A handler decodes, authorizes and calls an operation here; an
operation that writes is a plan (decided before the transaction, frozen),
a store step (one function over the ``WriteTx``) and an after step (what
follows the commit: popups, floors). Operations never import handlers."""

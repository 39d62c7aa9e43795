"""The peers carehub is measured against, written from their documentation,
minimal and idiomatic. Their dependencies are the ``peers`` extra."""

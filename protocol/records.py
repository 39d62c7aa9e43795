"""Filing conversations into the patient's record (``docs/records.md``).

The server cannot read what it would file, so a device does it: a records
device (a delegate with the ``read`` scope, or a practitioner's own) opens
the messages, writes FHIR resources to the practice's FHIR server or to
files, then says so with ``records.filed``: a line in the thread's audit
trail (``filed``), and the position the device starts from next time
(``records.filings``).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from protocol.model import Empty, Id, Natural

__all__ = ["RECORDS_METHODS", "FiledParams", "Filing", "FilingsParams", "FilingsResult"]

# Where the resources went, in the device's words ("fhir:cabinet", "files"):
# short enough for the trail's line, never a URL with credentials in it.
Target = Annotated[str, Meta(min_length=1, max_length=48, pattern=r"^[\w.:/+-]+$")]


class FiledParams(Struct):
    """The device filed the thread's messages up to ``through`` (a
    ``thread_seq``): ``messages`` and ``documents`` in a bundle whose
    SHA-256 is ``digest``, to ``target``."""

    thread: Id
    through: Id
    messages: Natural
    documents: Natural
    target: Target
    digest: Annotated[bytes, Meta(min_length=32, max_length=32)]


class FilingsParams(Struct):
    after: Natural = 0  # the last thread id already read
    limit: Annotated[int, Meta(ge=1, le=1000)] = 500


class Filing(Struct):
    """How far the caller filed ``thread``, and when it last did."""

    thread: int
    through: int
    at: int


class FilingsResult(Struct):
    filings: list[Filing]  # by thread id
    has_more: bool


RECORDS_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "records.filed": (FiledParams, Empty),
    "records.filings": (FilingsParams, FilingsResult),
}

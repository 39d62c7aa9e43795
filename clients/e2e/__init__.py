"""End-to-end encryption for the SDK: keys, device lists, envelopes, documents."""

from clients.e2e.devices import DeviceKeys, Identity, Trust
from clients.e2e.envelope import Opened, Outgoing, Sealed, open_envelope, seal_envelope
from clients.e2e.keystore import Keystore
from clients.e2e.safety import qr_payload, safety_number, verify_qr
from clients.e2e.secure import Secure
from protocol.e2e import Body, DocumentRef

__all__ = [
    "Body",
    "DeviceKeys",
    "DocumentRef",
    "Identity",
    "Keystore",
    "Opened",
    "Outgoing",
    "Sealed",
    "Secure",
    "Trust",
    "open_envelope",
    "qr_payload",
    "safety_number",
    "seal_envelope",
    "verify_qr",
]

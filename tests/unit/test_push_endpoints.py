"""Which push endpoints a subscription may name: the deployment's push
services only, so a subscription never makes the server call anything else."""

from __future__ import annotations

import pytest

from server.rpc.push import allowed_endpoint
from server.settings import Settings

SERVICES = Settings().push_services


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dXNlcjE:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com/QGuQyavXutnMH",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    ],
)
def test_the_browsers_push_services_are_allowed(endpoint: str) -> None:
    assert allowed_endpoint(endpoint, SERVICES)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "https://fcm.googleapis.com:8443/fcm/send/x",  # another port
        "https://fcm.googleapis.com.evil.example/x",
        "https://evilnotify.windows.com/x",  # not a subdomain of notify.windows.com
        "https://user:pw@fcm.googleapis.com/x",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/admin",
    ],
)
def test_anything_else_is_refused(endpoint: str) -> None:
    assert not allowed_endpoint(endpoint, SERVICES)


def test_a_deployment_lists_its_own() -> None:
    assert allowed_endpoint("http://127.0.0.1:5123/push/1", "http://127.0.0.1:5123")
    assert not allowed_endpoint("http://127.0.0.1:5124/push/1", "http://127.0.0.1:5123")

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chancery.notifications.testing import SmtpSink, smtp_server, use_smtp


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    """A real SMTP server on a free loopback port; Django's e-mail goes to it."""
    with smtp_server() as sink:
        use_smtp(settings, sink)
        yield sink

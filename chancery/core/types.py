"""The user as the core layer sees it, without importing `chancery.accounts` (core is a leaf).

`Viewer` is whoever a gated read is made for: a signed-in agent or an anonymous visitor
(`AnonymousUser`), which `visible_to` answers with nothing. `Agent` is a signed-in agent:
what the home page reads of them. The concrete class is `chancery.accounts.models.User`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Viewer(Protocol):
    @property
    def pk(self) -> Any: ...

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...


class Agent(Viewer, Protocol):
    def active_memberships(self) -> Sequence[Any]: ...

"""One adapter per document type (see `base`)."""

from __future__ import annotations

from functools import cache

from chancery.search.adapters.base import Adapter


@cache
def adapters() -> dict[str, Adapter]:
    from chancery.search.adapters.achievement import AchievementAdapter
    from chancery.search.adapters.action import ActionAdapter
    from chancery.search.adapters.attachment import AttachmentAdapter
    from chancery.search.adapters.dispatch import DispatchAdapter
    from chancery.search.adapters.programme import ProgrammeAdapter

    found: list[Adapter] = [
        DispatchAdapter(),
        AttachmentAdapter(),
        ActionAdapter(),
        AchievementAdapter(),
        ProgrammeAdapter(),
    ]
    return {a.doc_type: a for a in found}


def adapter(doc_type: str) -> Adapter:
    return adapters()[doc_type]

"""After the demo's correspondence is loaded, no distinctive word of a protected dispatch lies in
clear in the raw database or under the data dir (issue #9: subjects, bodies, places, tags,
free-text citations, attachment names and contents, grant and marking reasons).

The words are read back through the readers (decrypted), so the test states what must be
protected independently of how `content` stores it; words that unprotected dispatches, the
directory or open programmes also use are not distinctive and are left out (see
`chancery.core.tests.at_rest`).
"""

from __future__ import annotations

import io
from typing import Any

from chancery.core.tests import at_rest
from chancery.correspondence import content, demo
from chancery.correspondence.models import Dispatch, DispatchGrant, MarkingChange

COUNT = 300  # of the demo's dispatches: protected and open ones of every kind, in seconds


def _dispatch_words(*, protected: bool) -> set[str]:
    found: set[str] = set()
    dispatches = Dispatch.objects.unrestricted("at-rest test: every text").prefetch_related(
        "citations", "attachments"
    )
    for d in dispatches:
        if not protected:
            # a letter's sender and the sender's own reference are metadata, in clear for every
            # dispatch (SECURITY.md, "What Chancery does not promise")
            found |= at_rest.words(d.sender_name) | at_rest.words(d.external_reference)
        if d.is_encrypted != protected:
            continue
        found |= at_rest.words(content.read_field(d, "subject")) | at_rest.words(content.read_field(d, "body"))
        found |= at_rest.words(d.place_text) | at_rest.words(" ".join(d.tag_list))
        found |= at_rest.words(" ".join(c.reference_text for c in d.citations.all() if c.cited_id is None))
        for attachment in d.attachments.all():
            found |= at_rest.words(content.read_filename(attachment, d))
            data = content.read_attachment(attachment, d)
            found |= at_rest.words(data.decode("utf-8", "ignore")) if b"\0" not in data[:512] else set()
    for model in (DispatchGrant, MarkingChange):
        for row in model.objects.unrestricted("at-rest test: every reason").select_related("dispatch"):
            if (row.reason_ciphertext is not None) == protected:
                found |= at_rest.words(row.reason_text)
    return found


at_rest.register(
    "correspondence",
    protected=lambda: _dispatch_words(protected=True),
    open_words=lambda: _dispatch_words(protected=False),
)


def test_no_word_of_a_protected_dispatch_lies_in_clear_after_the_demo(ministry: Any) -> None:
    demo.populate(ministry=ministry, seed=2026, stdout=io.StringIO(), count=COUNT)
    assert Dispatch.objects.unrestricted("test").filter(classification__gte=1).exists()

    at_rest.assert_nothing_in_clear("correspondence", at_least=5)

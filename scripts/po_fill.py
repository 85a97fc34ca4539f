"""Fill a catalogue's missing translations from another version of it (merging translation work).

    python scripts/po_fill.py SOURCE.po TARGET.po

For every entry of TARGET that is untranslated or fuzzy, take SOURCE's translation of the same
msgid (and context) when SOURCE has a reviewed one. Used after a merge: keep one side's catalogue,
re-extract with scripts/make_messages.sh, then fill from the other side's version.
"""

from __future__ import annotations

import sys

import polib


def main(source_path: str, target_path: str) -> int:
    source = {(e.msgctxt, e.msgid): e for e in polib.pofile(source_path) if not e.obsolete and "fuzzy" not in e.flags}
    target = polib.pofile(target_path)
    filled = 0
    for entry in target:
        if entry.obsolete:
            continue
        done = entry.msgstr or any(entry.msgstr_plural.values())
        if done and "fuzzy" not in entry.flags:
            continue
        found = source.get((entry.msgctxt, entry.msgid))
        if found is None or not (found.msgstr or any(found.msgstr_plural.values())):
            continue
        entry.msgstr = found.msgstr
        entry.msgstr_plural = dict(found.msgstr_plural)
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = None
        entry.previous_msgid_plural = None
        entry.previous_msgctxt = None
        filled += 1
    target.save(target_path)
    print(f"{target_path}: {filled} translation(s) filled")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))

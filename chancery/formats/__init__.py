"""Corrections of Django's locale formats (see `FORMAT_MODULE_PATH`), and of its short month names.

Django's Spanish short month names mix "Ene." and "Feb." with "marzo" and "sept."; the timeline
writes one of them over each month. They are re-translated in Chancery's own catalogues (which
come before Django's), and listed here so that `make_messages.sh` extracts them.
"""

from django.utils.translation import pgettext_lazy

SHORT_MONTH_NAMES = [
    pgettext_lazy("abbrev. month", "Jan."),
    pgettext_lazy("abbrev. month", "Feb."),
    pgettext_lazy("abbrev. month", "March"),
    pgettext_lazy("abbrev. month", "April"),
    pgettext_lazy("abbrev. month", "May"),
    pgettext_lazy("abbrev. month", "June"),
    pgettext_lazy("abbrev. month", "July"),
    pgettext_lazy("abbrev. month", "Aug."),
    pgettext_lazy("abbrev. month", "Sept."),
    pgettext_lazy("abbrev. month", "Oct."),
    pgettext_lazy("abbrev. month", "Nov."),
    pgettext_lazy("abbrev. month", "Dec."),
]

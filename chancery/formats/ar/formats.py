"""Arabic formats: Django's own, except where they gave three different dates on one page.

Django's Arabic short date carries right-to-left marks (d‏/m‏/Y), which an RTL paragraph shows as
2026/12/15, and it has no short date-time format, so the default (m/d/Y) showed 12/01/2026 for
1 December beside it. Day/month/year without marks reads 01/12/2026 everywhere, as in French
(digits and slashes form one left-to-right run inside Arabic text). Numbers are grouped by
thousands, as in the other languages.
"""

DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "j F Y H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i"
NUMBER_GROUPING = 3

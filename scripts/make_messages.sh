#!/usr/bin/env bash
# Re-extract the interface strings into chancery/locale/{fr,en,ar,es}/LC_MESSAGES/django.po.
# Existing translations are kept (makemessages merges with msgmerge); new strings arrive empty and
# near-matches arrive "fuzzy": translate them, then `make messages` (or scripts/compile_messages.py).
# tests/test_translations.py fails while any string is untranslated or fuzzy. Needs GNU gettext.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
command -v msgmerge >/dev/null || { echo "GNU gettext is missing (apt-get install gettext)" >&2; exit 1; }
cd "$here/chancery"
export DJANGO_SETTINGS_MODULE=chancery.settings
export CHANCERY_DATA_DIR="${CHANCERY_DATA_DIR:-$here/var}"
"$python" -m django makemessages \
  --locale fr --locale en --locale ar --locale es \
  --domain django --extension html,txt,py \
  --ignore 'migrations/*' --ignore '*/migrations/*' --ignore 'tests/*' --ignore '*/tests/*' \
  --ignore 'static/*' --ignore '*/static/*' \
  --add-location file --no-wrap "$@"
echo "Catalogues updated under chancery/locale/. Translate the empty and fuzzy entries, then run 'make messages'."

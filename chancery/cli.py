"""The `chancery` console script: Chancery's commands, each a Django management command.

`chancery <command>` runs the management command of the same name with dashes turned
into underscores (`import-letter` → `import_letter`); Django's own commands (migrate,
check, shell, …) pass through unchanged.
"""

from __future__ import annotations

import os
import sys

COMMANDS = [
    "serve", "demo", "createuser", "token", "import-letter", "generate", "verify-audit", "audit-checkpoint",
    "verify-dispatch", "export-dispatch", "send-reminders",
    "backup", "restore", "rotate-keys", "reindex", "bench",
]


def _describe(available: dict[str, str]) -> str:
    from django.core.management import load_command_class

    lines = ["usage: chancery <command> [options]", "", "Chancery commands:"]
    for name in COMMANDS:
        command = name.replace("-", "_")
        if command not in available:
            continue
        help_text = load_command_class(available[command], command).help.strip().splitlines()[0]
        lines.append(f"  {name:<17} {help_text}")
    lines += [
        "",
        "Django commands also work (migrate, check, shell, …): `chancery help` lists them.",
        "Each command has --help.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 2 and argv[1] == "verify-dispatch" and any(a.split("=")[0] == "--package" for a in argv[2:]):
        # Offline check of a signed package: runs on a machine with no database, data or keys.
        from chancery.correspondence.package_format import main as verify_package

        sys.exit(verify_package(argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
    try:
        import django

        django.setup()
    except Exception as exc:  # a malformed setting: one clear line, no traceback
        print(f"chancery: {exc}", file=sys.stderr)
        sys.exit(2)
    from django.core.management import execute_from_command_line, get_commands

    if len(argv) < 2 or argv[1] in {"-h", "--help"}:
        print(_describe(get_commands()))
        return
    if argv[1] in COMMANDS:
        argv[1] = argv[1].replace("-", "_")
    try:
        execute_from_command_line(["chancery", *argv[1:]])
    except KeyboardInterrupt:
        print("chancery: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # anything but CommandError (which Django prints itself): one line, no traceback
        if "--traceback" in argv:
            raise
        from django.db import DatabaseError

        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = " (is the database reachable and migrated? `chancery migrate`)" if isinstance(exc, DatabaseError) else ""
        print(f"chancery: {type(exc).__name__}: {message}{hint}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

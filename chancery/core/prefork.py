"""Getting a server's master process ready to fork its workers (`chancery serve`).

What every worker would otherwise build on its first requests — the URL map (and with it the
API's schemas) and the compiled templates — is built once, before the fork, and shared. Then
every object alive is frozen out of the garbage collector's sight (`gc.freeze`): a full
collection no longer walks the application's ~120,000 long-lived objects, which stalled a worker
(all its threads) for 45–65 ms about once every hundred requests at a million dispatches, and
the workers keep sharing those memory pages instead of copying them as the collector touches
them (the use the Python documentation gives for `gc.freeze`).
"""

from __future__ import annotations

import gc
from pathlib import Path


def compile_templates() -> int:
    """Compile every template of every template directory into the engines' cached loaders;
    how many. A file that is not a template the engine can compile is left to fail where it
    is used, as before."""
    from django.template import TemplateSyntaxError, engines

    count = 0
    for backend in engines.all():
        engine = getattr(backend, "engine", None)
        if engine is None:
            continue
        directories: list[Path] = []
        for loader in engine.template_loaders:
            for inner in getattr(loader, "loaders", [loader]):
                directories += [Path(d) for d in inner.get_dirs()]
        for directory in directories:
            for path in sorted(directory.rglob("*")):
                if not path.is_file():
                    continue
                try:
                    backend.get_template(path.relative_to(directory).as_posix())
                except (TemplateSyntaxError, UnicodeDecodeError):
                    continue
                count += 1
    return count


def prepare_for_fork() -> None:
    """Build what the workers share, then freeze it (see the module's docstring)."""
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018  # imports every URLconf, the API's routers and schemas with them
    resolver._populate()
    compile_templates()
    gc.collect()
    gc.freeze()

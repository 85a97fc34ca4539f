"""`chancery serve`: serve Chancery with gunicorn (static files by WhiteNoise) and a task worker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections
from gunicorn.glogging import Logger

# The access log names the path only: no query string (search terms, filters, tokens in links
# must never reach the disk), no referrer (another page's query string) and no user agent.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'


class PathOnlyLogger(Logger):
    """gunicorn's logger with every atom that could carry a query string reduced to the path."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = str(environ.get("RAW_URI") or getattr(req, "path", "") or "").split("?", 1)[0]
        atoms.update({
            "r": f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}",
            "U": path, "q": "", "f": "-", "a": "-",
        })
        for key in [k for k in atoms if k.startswith("{")]:  # request/response headers ({referer}i …)
            atoms[key] = "-"
        return atoms


class Command(BaseCommand):
    help = "Serve Chancery over HTTP (gunicorn; static files served by the app itself) with a background worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port (default 127.0.0.1:8000)")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="skip collecting static files (they are collected only when their sources changed)",
        )
        parser.add_argument(
            "--no-task-worker",
            action="store_true",
            help="do not start a background task worker beside the server (run `chancery db_worker` elsewhere)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from gunicorn.app.base import BaseApplication

        from chancery.core.prefork import prepare_for_fork
        from chancery.core.staticfiles import collect_if_needed
        from chancery.correspondence import storage

        # Files left by writes a crash interrupted (older than any upload still in flight).
        try:
            swept = storage.sweep(older_than_seconds=600)
        except DatabaseError:  # not migrated yet: nothing can reference a file, nothing to sweep now
            swept = 0
        if swept:
            self.stdout.write(f"removed {swept} attachment file(s) left by interrupted writes")

        # Collect before the application is built: WhiteNoise lists STATIC_ROOT once, when the
        # WSGI handler loads its middleware, so files collected afterwards would answer 404.
        if not options["no_collectstatic"] and collect_if_needed():
            self.stdout.write("Static files collected.")

        from chancery.wsgi import application

        worker: subprocess.Popen[bytes] | None = None
        if settings.CHANCERY_TASK_BACKEND == "database" and not options["no_task_worker"]:
            from chancery.correspondence.reminders import ensure_scheduled

            ensure_scheduled()  # the daily reminders re-queue themselves from then on
            # The worker is a child process: it ends with the server (see `finally`).
            worker = subprocess.Popen([sys.executable, "-m", "chancery.cli", "db_worker"])

        class Server(BaseApplication):
            def load_config(self) -> None:
                self.cfg.set("bind", options["bind"])
                self.cfg.set("workers", options["workers"])
                self.cfg.set("threads", options["threads"])
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("accesslog", "-")
                self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
                self.cfg.set("logger_class", "chancery.core.management.commands.serve.PathOnlyLogger")
                self.cfg.set("timeout", 120)

            def load(self) -> Any:
                return application

        # The workers are forked from this process: none may inherit its database connections
        # (persistent ones would be shared between processes). What they all need is built here
        # once and frozen out of the garbage collector's walks (`chancery.core.prefork`).
        prepare_for_fork()
        connections.close_all()
        self.stdout.write(f"Chancery on http://{options['bind']}/")
        try:
            Server().run()
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)

"""`chancery bench search`: search latency and index size on the current database.

Prepare the corpus first (the same data dir / DATABASE_URL):

    chancery migrate && chancery demo --organisation-only
    chancery generate dispatches --count 100000
    chancery reindex
    chancery bench search

A fixed set of queries (single words, phrases, prefixes, exclusions, filtered queries, rare
and very common terms; drawn deterministically from the corpus's own clear subjects) runs as
a fully cleared agent and as a narrowly scoped one, through:
1. Chancery: `selectors.search` — the search page's code path without HTTP (gate, filters,
   count, facets, one page of results, snippets decrypted on the fly);
2. the bare engine: the same words written by hand as one FTS5 / tsquery expression, with
   the same bounded strategy (the newest `selectors.COUNT_CAP` matches, in the engine's
   order, and only those ranked): top 20 by rank and their count, with no gate, no facets
   and no snippets (the floor);
3. Whoosh, indexing the same documents' clear text in a temporary directory (the peer).
p50/p95/p99 in milliseconds and index sizes; the record of each engine is kept in
`bench/results/search.json` beside the other engine's, and both go to `search.md`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError
from django.db import connection

if TYPE_CHECKING:
    from chancery.accounts.models import User

CLEARED_CANDIDATES = ("security", "auditor", "director.dab", "inspect.sg5", "admin")
SCOPED_USER = "counsellor.dakar"


def _arguments(parser: Any) -> None:
    parser.add_argument("--queries", type=int, default=200, help="number of queries (default 200)")
    parser.add_argument("--seed", type=int, default=11, help="random seed of the query set (default 11)")
    parser.add_argument("--no-whoosh", action="store_true", help="skip the Whoosh comparison")
    parser.add_argument("--whoosh-limit", type=int, default=0, help="index at most this many documents in Whoosh")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "mean": round(statistics.fmean(ordered) * 1000, 2)}


def _vocabulary(rng: random.Random) -> tuple[list[list[str]], Counter[str]]:
    """Subjects of clear dispatches (word lists) and word frequencies, from a sample."""
    from chancery.correspondence.models import Dispatch
    from chancery.search import analysis

    rows = list(
        Dispatch.objects.unrestricted("benchmark query set")
        .filter(subject_ciphertext__isnull=True)
        .exclude(subject="")
        .order_by("id")
        .values_list("subject", flat=True)[:5000]
    )
    if not rows:
        raise CommandError("no dispatch to search: run `chancery generate dispatches` and `chancery reindex` first")
    rng.shuffle(rows)
    subjects = []
    freq: Counter[str] = Counter()
    for subject in rows:
        words = [t.text for t in analysis.tokens(subject) if len(t.folded) > 3 and not analysis.is_stopword(t.folded)]
        if words:
            subjects.append(words)
            freq.update(w.lower() for w in words)
    return subjects, freq


def query_set(count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, query) pairs: deterministic for a corpus and a seed."""
    from chancery.organisation.models import Unit

    rng = random.Random(seed)
    subjects, freq = _vocabulary(rng)
    common = [w for w, _n in freq.most_common(10)]
    rare = [w for w, n in freq.items() if n == 1] or common
    units = list(Unit.objects.unrestricted("benchmark").filter(kind="mission").values_list("code", flat=True)[:30])
    kinds = ["word", "phrase", "prefix", "exclude", "filtered", "rare", "common", "two words"]
    queries: list[tuple[str, str]] = []
    while len(queries) < count:
        kind = kinds[len(queries) % len(kinds)]
        words = rng.choice(subjects)
        word = rng.choice(words)
        if kind == "word":
            q = word
        elif kind == "phrase" and len(words) > 1:
            i = rng.randrange(len(words) - 1)
            q = f'"{words[i]} {words[i + 1]}"'
        elif kind == "prefix":
            q = word[: max(3, min(5, len(word) - 1))] + "*"
        elif kind == "exclude":
            q = f"{word} -{rng.choice(common)}"
        elif kind == "filtered":
            q = f"{word} from:{rng.choice(units)} after:2025-06-01" if units else f"{word} after:2025-06-01"
        elif kind == "rare":
            q = rng.choice(rare)
        elif kind == "common":
            q = rng.choice(common)
        else:
            q = f"{word} {rng.choice(rng.choice(subjects))}"
        queries.append((kind, q))
    return queries


def _users() -> tuple[Any, Any]:
    from chancery.accounts.models import User
    from chancery.correspondence.models import Dispatch

    best, best_count = None, -1
    for username in CLEARED_CANDIDATES:
        user = User.objects.unrestricted("benchmark").filter(username=username).first()
        if user is None:
            continue
        seen = Dispatch.objects.visible_to(user).count()
        if seen > best_count:
            best, best_count = user, seen
    scoped = User.objects.unrestricted("benchmark").filter(username=SCOPED_USER).first()
    if best is None or scoped is None:
        raise CommandError("the demo agents are missing: run `chancery demo --organisation-only` first")
    return best, scoped


def _time(queries: list[tuple[str, str]], make: Callable[[str], Callable[[], Any]]) -> dict[str, float]:
    """Wall-clock percentiles, and those of this process's CPU time (`cpu_p50`…): on a
    shared machine the wall clock also counts the time spent waiting for a core, the CPU
    time does not (SQLite runs in this process; a PostgreSQL server's CPU is not counted)."""
    samples, cpu = [], []
    for _kind, q in queries:
        call = make(q)
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    spent = _percentiles(cpu)
    return {**_percentiles(samples), "cpu_p50": spent["p50"], "cpu_p95": spent["p95"], "cpu_p99": spent["p99"]}


def _searcher(user: User) -> Callable[[str], Callable[[], Any]]:
    from chancery.search.selectors import search

    def make(q: str) -> Callable[[], Any]:
        return lambda: search(user, q)

    return make


def _bare(q: str) -> Callable[[], Any]:
    """The same words as one hand-written engine expression (clear tokens only, no gate)."""
    from chancery.search import selectors
    from chancery.search.backends import get_backend
    from chancery.search.backends.postgres import _column_queries
    from chancery.search.backends.sqlite import expression
    from chancery.search.query import Alternative, parse

    query = parse(q)
    clauses = []
    for clause in query.must:
        if clause.kind == "prefix":
            clauses.append([Alternative("words", "prefix", clause.words)])
        else:
            from chancery.search import analysis

            stems = tuple(analysis.query_stems(w)[0] for w in clause.words)
            clauses.append([Alternative("terms", "phrase" if len(stems) > 1 else "term", stems)])
    if not clauses:
        return lambda: None
    backend = get_backend().name
    # The same bounded strategy as Chancery's (`selectors._window`): the newest `window`
    # matches, in the engine's own order, and only those ranked; the count is theirs.
    window = selectors.COUNT_CAP

    def run() -> Any:
        with connection.cursor() as cursor:
            if backend == "sqlite":
                match = expression(clauses)
                newest = "SELECT rowid AS id FROM search_fts WHERE search_fts MATCH %s ORDER BY rowid DESC LIMIT %s"
                cursor.execute(
                    f"WITH c AS MATERIALIZED ({newest}) "  # noqa: S608 - fixed SQL
                    "SELECT rowid FROM search_fts WHERE search_fts MATCH %s AND rowid >= (SELECT MIN(id) FROM c) "
                    "ORDER BY bm25(search_fts, 1.0, 0.3) LIMIT 20",
                    [match, window, match],
                )
                cursor.fetchall()
                cursor.execute(f"SELECT count(*) FROM ({newest})", [match, window])  # noqa: S608 - fixed SQL
                cursor.fetchall()
            else:
                queries = _column_queries(clauses)
                where = " AND ".join(f"{c}_vector @@ %s::tsquery" for c in sorted(queries))
                params = [queries[c] for c in sorted(queries)]
                newest = f"SELECT id FROM search_searchdocument WHERE {where} ORDER BY id DESC LIMIT %s"  # noqa: S608
                cursor.execute(
                    f"WITH c AS MATERIALIZED ({newest}) "  # noqa: S608 - fixed column names
                    "SELECT d.id FROM search_searchdocument d JOIN c ON c.id = d.id "
                    "ORDER BY ts_rank_cd(d.terms_vector, %s::tsquery) DESC LIMIT 20",
                    [*params, window, queries.get("terms", queries.get("words"))],
                )
                cursor.fetchall()
                cursor.execute(f"SELECT count(*) FROM ({newest}) c", [*params, window])  # noqa: S608
                cursor.fetchall()

    return run


def _whoosh(limit: int, queries: list[tuple[str, str]]) -> dict[str, Any]:
    from whoosh import index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import QueryParser

    from chancery.search.adapters import adapters
    from chancery.search.models import SearchDocument

    folder = Path(tempfile.mkdtemp(prefix="chancery-whoosh-"))
    try:
        schema = Schema(id=ID(stored=True, unique=True), body=TEXT(analyzer=StemmingAnalyzer()))
        ix = index.create_in(str(folder), schema)
        writer = ix.writer(limitmb=256)
        started = time.perf_counter()
        indexed = 0
        for doc_type in ("dispatch", "attachment", "action", "achievement", "programme"):
            ids = list(
                SearchDocument.objects.unrestricted("benchmark corpus")
                .filter(doc_type=doc_type)
                .order_by("object_id")
                .values_list("object_id", flat=True)
            )
            for i in range(0, len(ids), 500):
                if limit and indexed >= limit:
                    break
                for entry in adapters()[doc_type].entries(ids[i : i + 500]):
                    writer.add_document(id=f"{doc_type}:{entry.object_id}", body=entry.text)
                    indexed += 1
        writer.commit()
        build = time.perf_counter() - started
        say(f"whoosh: {indexed} documents indexed in {build:.0f} s")
        with ix.searcher() as searcher:
            parser = QueryParser("body", ix.schema)

            def make(q: str) -> Callable[[], Any]:
                def run() -> Any:
                    results = searcher.search(parser.parse(q), limit=20)
                    return len(results)  # the total, as Chancery's count

                return run

            timed = _time(queries, make)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        return {"documents": indexed, "build_seconds": round(build, 1), "index_bytes": size, **timed}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(options: dict[str, Any], stdout: Any) -> dict[str, Any]:
    from chancery.correspondence.models import Dispatch
    from chancery.search.backends import get_backend
    from chancery.search.models import SearchDocument
    from chancery.search.selectors import search

    backend = get_backend()
    documents = SearchDocument.objects.unrestricted("benchmark").count()
    dispatches = Dispatch.objects.unrestricted("benchmark").count()
    if not documents:
        raise CommandError("the index is empty: run `chancery reindex` first")
    queries = query_set(int(options["queries"]), int(options["seed"]))
    cleared, scoped = _users()
    say(f"{backend.name}: {dispatches} dispatches, {documents} indexed documents, {len(queries)} queries")
    # One warm-up pass (caches, statement preparation), not measured.
    for _kind, q in queries[:20]:
        search(cleared, q)
        _bare(q)()
    record: dict[str, Any] = {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],  # a shared machine: say how loaded
        "engine": backend.name,
        "dispatches": dispatches,
        "documents": documents,
        "queries": len(queries),
        "index_bytes": backend.storage_size(),
    }
    for label, user in (("chancery_cleared", cleared), ("chancery_scoped", scoped)):
        record[label] = {"user": user.username, **_time(queries, _searcher(user))}
        say(f"{label}: {record[label]}")
    record["bare_engine"] = _time(queries, _bare)
    say(f"bare_engine: {record['bare_engine']}")
    if not options["no_whoosh"]:
        record["whoosh"] = _whoosh(int(options["whoosh_limit"]), queries)
        say(f"whoosh: {record['whoosh']}")
    record["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    record["query_kinds"] = dict(Counter(kind for kind, _q in queries))
    record["sample_queries"] = [q for _k, q in queries[:16]]
    return _merge(record)


def _merge(record: dict[str, Any]) -> dict[str, Any]:
    """Keep the other engine's last run beside this one (one file, one table)."""
    from chancery.core.management.commands.bench import machine_info, results_dir

    path = results_dir() / "search.json"
    runs: dict[str, Any] = {}
    if path.exists():
        try:
            runs = dict(json.loads(path.read_text(encoding="utf-8")).get("runs", {}))
        except (ValueError, AttributeError):
            runs = {}
    record["command"] = "chancery " + " ".join(sys.argv[1:])
    record["machine"] = machine_info()
    runs[record["engine"]] = record
    return {"runs": runs, "markdown": _markdown(runs)}


def _markdown(runs: dict[str, Any]) -> str:
    lines = [
        "# `chancery bench search`",
        "",
        "Latency in milliseconds over the fixed query set; Chancery = `selectors.search` (gate, count, facets,",
        "one page, snippets), bare engine = the same words as one hand-written engine expression (top 20 + count,",
        "no gate), Whoosh = the same documents' text in a Whoosh index (top 20 + count).",
        "Chancery ranks the reader's newest `selectors.COUNT_CAP` readable matches (all of them when fewer),",
        'and its total and facets count those ("or more"); the bare engine does the same by hand, without the gate.',
        "The machine may be shared: the load average of each run is listed below the table; CPU = this process's",
        "CPU time (what the wall clock costs on an idle machine; a PostgreSQL server's own CPU is not in it).",
        "",
        "| engine | dispatches | indexed documents | path | p50 | p95 | p99 | CPU p50 | CPU p95 | index size |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, run in sorted(runs.items()):
        size = f"{run['index_bytes'] / 1e6:.1f} MB"
        for label in ("chancery_cleared", "chancery_scoped", "bare_engine"):
            r = run[label]
            name = label.replace("_", " ") + (f" ({r['user']})" if "user" in r else "")
            lines.append(
                f"| {engine} | {run['dispatches']} | {run['documents']} | {name} | {r['p50']} | {r['p95']} | "
                f"{r['p99']} | {r.get('cpu_p50', '')} | {r.get('cpu_p95', '')} | {size} |"
            )
        if "whoosh" in run:
            w = run["whoosh"]
            lines.append(
                f"| {engine} | {run['dispatches']} | {w['documents']} | whoosh | {w['p50']} | {w['p95']} | "
                f"{w['p99']} | {w.get('cpu_p50', '')} | {w.get('cpu_p95', '')} | {w['index_bytes'] / 1e6:.1f} MB |"
            )
    lines += [""]
    for engine, run in sorted(runs.items()):
        machine = run.get("machine", {})
        start, end = run.get("load_average_at_start"), run.get("load_average_at_end")
        load = f"; load average (1, 5, 15 min) {start} at the start, {end} at the end" if start and end else ""
        lines.append(
            f"- {engine}: `{run.get('command', '')}`, {machine.get('date', '')}, {machine.get('cpus')} CPUs{load}."
        )
    lines += ["", "Machine, date and command of each run: `search.json`.", ""]
    return "\n".join(lines)


BENCHMARKS = {"search": ("search latency (Chancery vs bare engine vs Whoosh) and index size", _arguments, _run)}

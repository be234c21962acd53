"""``newsriver [--config PATH] COMMAND``: check, poll, run, serve, status."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__, logs, opml
from . import config as config_module
from .config import Config
from .errors import ConfigError, NewsriverError
from .lock import WriterLock
from .output import announce, publish_feeds
from .pages import render_opml
from .poll import Outcome, poll_sources, utcnow
from .publish import SourceInfo, write_atomic
from .serve import FeedServer, make_server
from .service import Service
from .store import Store

EXIT_INVALID = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A service's log is its operator's window into it; one-shot commands print results instead.
    level = args.log_level or ("info" if args.command in ("run", "serve") else "warning")
    logs.setup(level, args.log_format)
    path = config_module.resolve_path(args.config)
    try:
        config = config_module.load(path)
        if hasattr(args, "config_handler"):  # commands that need the config but not the database
            return int(args.config_handler(config, path, args))
        store = Store(config.settings.database)
        try:
            return int(args.handler(config, store, args))
        finally:
            store.close()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except NewsriverError as exc:
        print(f"newsriver: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsriver", description="Poll feeds, remove duplicates, republish.")
    parser.add_argument("--config", help=f"config file (default ${{NEWSRIVER_CONFIG}} or {config_module.DEFAULT_PATH})")
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="log line format")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action="version", version=f"newsriver {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("check", help="validate the config").set_defaults(config_handler=_check)
    poll = commands.add_parser("poll", help="fetch every source once, store, publish")
    poll.add_argument("--strict", action="store_true", help="exit 1 when any source failed")
    poll.set_defaults(handler=_poll)
    commands.add_parser("run", help="the service: poll on schedule, publish, serve").set_defaults(handler=_run)
    commands.add_parser("serve", help="serve the output folder over HTTP").set_defaults(handler=_serve)
    status = commands.add_parser("status", help="one row per source")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)
    sources = commands.add_parser("sources", help="manage the sources list").add_subparsers(
        dest="sources_command", required=True, metavar="ACTION"
    )
    importer = sources.add_parser("import-opml", help="add an OPML file's feeds to the config, keeping its comments")
    importer.add_argument("file", type=Path)
    importer.set_defaults(config_handler=_import_opml)
    exporter = sources.add_parser("export-opml", help="write the configured sources as OPML")
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exporter.set_defaults(config_handler=_export_opml)
    return parser


def _import_opml(_config: Config, path: Path, args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise NewsriverError(f"{args.file}: cannot read: {exc.strerror}") from exc
    result = opml.import_opml(path, data)
    for note in result.skipped:
        print(f"skipped {note}")
    print(f"{path}: added {len(result.added)} sources" + (f": {', '.join(result.added)}" if result.added else ""))
    return 0


def _export_opml(config: Config, _path: Path, args: argparse.Namespace) -> int:
    sources = [SourceInfo(s.name, s.title or s.name, s.url, "") for s in config.sources]
    data = render_opml(config.settings.title, sources)
    if args.output:
        write_atomic(args.output, data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def _check(config: Config, path: Path, _args: argparse.Namespace) -> int:
    print(
        f"{path}: ok: {len(config.sources)} sources, {len(config.feeds)} feeds "
        f"({', '.join(f.name for f in config.feeds)}), database {config.settings.database}"
    )
    return 0


def _poll(config: Config, store: Store, args: argparse.Namespace) -> int:
    store.sync_sources((s.name, s.url) for s in config.sources)
    if sys.stdout.isatty():
        outcomes = _poll_with_progress(config, store)
    else:
        outcomes = poll_sources(config, store, on_outcome=lambda o: print(o.line(), flush=True))
    changed = publish_feeds(config, store)
    announce(config, changed)
    failed = [o for o in outcomes if o.result == "error"]
    print(
        f"{len(outcomes)} sources: {len(outcomes) - len(failed)} ok, {len(failed)} failed; "
        f"{sum(o.new for o in outcomes)} new, {sum(o.updated for o in outcomes)} updated; "
        f"{len(changed)} files written to {config.settings.output_dir}"
    )
    return 1 if failed and args.strict else 0


def _poll_with_progress(config: Config, store: Store) -> list[Outcome]:
    columns = (
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sources · {task.fields[entries]} new entries"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("poll", total=len(config.sources), entries=0)
        entries = 0

        def report(outcome: Outcome) -> None:
            nonlocal entries
            entries += outcome.new
            style = "red" if outcome.result == "error" else ""
            progress.console.print(outcome.line(), style=style, markup=False, highlight=False)
            progress.update(task, advance=1, entries=entries)

        return poll_sources(config, store, on_outcome=report)


def _run(config: Config, store: Store, args: argparse.Namespace) -> int:
    lock = WriterLock(config.settings.database)
    lock.acquire()
    try:
        clean = Service(config_module.resolve_path(args.config), config, store).run()
    finally:
        lock.release()
    if not clean:
        # A fetch outlived the grace period. Everything stored is committed; leave now
        # rather than wait for its timeout (worker threads are joined at normal exit).
        logging.shutdown()
        os._exit(0)
    return 0


def _serve(config: Config, store: Store, _args: argparse.Namespace) -> int:
    settings = config.settings
    server = make_server(FeedServer(settings.output_dir), settings.listen_host, settings.listen_port)
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    print(f"serving {settings.output_dir} on http://{settings.listen}/", file=sys.stderr, flush=True)
    # server.close() from the SIGTERM handler makes run() stop with an OSError.
    with contextlib.suppress(KeyboardInterrupt, OSError):
        server.run()
    return 0


def _status(config: Config, store: Store, args: argparse.Namespace) -> int:
    rows = store.sources()
    counts = store.entry_counts()
    table: list[dict[str, Any]] = []
    for cfg in config.sources:
        row = rows.get(cfg.name)
        table.append(
            {
                "source": cfg.name,
                "status": row.status if row else "new",
                "last_fetch": row.last_fetch if row else None,
                "last_success": row.last_success if row else None,
                "entries": counts.get(cfg.name, 0),
                "next_poll": row.next_poll if row else None,
                "errors": row.errors if row else 0,
                "last_error": row.last_error if row else "",
                "url": row.feed_url if row else cfg.url,
            }
        )
    if args.json:
        print(json.dumps(table, default=lambda v: v.isoformat(), indent=2))
        return 0
    now = utcnow()
    headers = ["SOURCE", "STATUS", "LAST FETCH", "ENTRIES", "NEXT POLL", "ERRORS", "LAST ERROR"]
    cells = [
        [
            r["source"],
            r["status"],
            _ago(r["last_fetch"], now),
            str(r["entries"]),
            _ago(r["next_poll"], now),
            str(r["errors"]),
            r["last_error"][:60],
        ]
        for r in table
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    for line in [headers, *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = int((when - now).total_seconds())
    span = abs(seconds)
    text = f"{span}s" if span < 120 else f"{span // 60}m" if span < 7200 else f"{span // 3600}h"
    return f"in {text}" if seconds > 0 else f"{text} ago"


if __name__ == "__main__":
    sys.exit(main())

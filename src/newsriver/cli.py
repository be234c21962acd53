"""``newsriver [--config PATH] [--log-level LEVEL] [--log-format text|json] [--version] COMMAND``:
check, poll, run, serve, prune, dupes, status, discover, sources."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from newsriver import __version__
from newsriver.errors import ConfigError, NewsriverError
from newsriver.plural import counted

if TYPE_CHECKING:
    from datetime import timedelta

    from newsriver.config.schema import Config
    from newsriver.run.outcome import Outcome
    from newsriver.store.store import Store

# Every import beyond the standard library's is made where it is used, by the command that
# needs it:
# - a poll run from cron every few minutes pays the start-up of every import, and a pass
#   where every feed answers 304 spends a good part of its time there (tests/test_startup.py);
# - each parse worker runs this module again when it starts (multiprocessing prepares a
#   worker by running its parent's main module): imported here, SQLAlchemy, pydantic and
#   the rest would cost every worker about half a second of CPU and tens of MB.

EXIT_INVALID = 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `newsriver status | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    # Start-up (the modules, the config) allocates some 100,000 objects that all live on: the
    # cyclic collector walked them ~80 times to find nothing, ~16 ms of the CPU of a pass of
    # 304s. It is off until the command starts, and on again however this ends (main is also
    # called in-process, by tests).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _command(argv, _collect_from_now if collecting else gc.disable)
    finally:
        if collecting:
            gc.unfreeze()
            gc.enable()


def _collect_from_now() -> None:
    # What start-up made is left out of collections for the command's life (gc.freeze): the
    # first ones after start-up walked all of it again (8-10 ms of thread CPU in a pass of 304s).
    # Start-up's own cyclic garbage (the collector was off) is frozen with it: 0.3-0.6 MB, once.
    gc.freeze()
    gc.enable()


def _command(argv: Sequence[str] | None, started: Callable[[], None]) -> int:
    """Run the command; ``started`` is called once start-up is over, before its handler."""
    from newsriver.config import load as config_module
    from newsriver.run import logs
    from newsriver.store.store import Store

    args = _parser().parse_args(argv)
    # A service's log is its operator's window into it; one-shot commands print results instead.
    level = args.log_level or ("info" if args.command in ("run", "serve") else "warning")
    logs.setup(level, args.log_format)
    path = config_module.resolve_path(args.config)
    try:
        if hasattr(args, "plain_handler"):  # commands that need neither the config nor the database
            started()
            return int(args.plain_handler(args))
        # Commands that never fetch take a config whose secrets are unset (an operator's shell
        # lacks the service's environment); the others refuse it (exit 2), before anything runs.
        unset: list[str] | None = [] if getattr(args, "secrets_optional", False) else None
        config = _load_config(path, args.config, args.command, unset)
        for problem in unset or []:
            print(f"warning: {problem}: {args.command} fetches nothing, poll and run refuse to start", file=sys.stderr)
        if hasattr(args, "config_handler"):  # commands that need the config but not the database
            started()
            return int(args.config_handler(config, path, args))
        if getattr(args, "read_only", False):
            _require_database(config.settings.database)
        store = Store(config.settings.database)
        started()
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


def _load_config(path: Path, explicit: str | None, command: str, unset: list[str] | None = None) -> Config:
    from newsriver.config import load as config_module

    try:
        return config_module.load(path, unset)
    except ConfigError:
        if path.exists():
            raise
        where = config_module.not_found(explicit, os.environ.get("NEWSRIVER_CONFIG"), Path.cwd(), command)
        raise ConfigError([where]) from None


class _Version(argparse.Action):
    """``--version``: the release, and whether fingerprints are made by the optional C extension.
    pip hides a failed optional build unless run with ``-v``, so this is where a user finds out;
    worked out only when asked, since it imports the fingerprint module (numpy)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from newsriver.stories.fingerprint import fingerprint_path

        print(f"newsriver {__version__}\nnear-duplicate fingerprints: {fingerprint_path()}")  # stdout, as argparse's
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from newsriver.config import load as config_module

    parser = argparse.ArgumentParser(prog="newsriver", description="Poll feeds, remove duplicates, republish.")
    parser.add_argument("--config", help=f"config file (default ${{NEWSRIVER_CONFIG}} or {config_module.DEFAULT_PATH})")
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="log line format")
    # Any case: DEBUG is how logging itself spells the level.
    parser.add_argument("--log-level", type=str.lower, choices=["debug", "info", "warning", "error"])
    parser.add_argument("--version", action=_Version, help="show the version and which fingerprint path runs, and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("check", help="validate the config").set_defaults(config_handler=_check, secrets_optional=True)
    _poll_parser(commands.add_parser("poll", help="fetch every source once, store, publish"))
    run = commands.add_parser("run", help="the service: poll on schedule, publish, serve")
    run.add_argument(
        "--role",
        choices=["all", "worker", "publisher"],
        default="all",
        help="worker: only poll (many may share a PostgreSQL database); publisher: render and serve; all: both",
    )
    run.set_defaults(handler=_run)
    serve = commands.add_parser("serve", help="serve the output folder over HTTP")
    serve.add_argument(
        "--from-database",
        action="store_true",
        help="answer from the rendered feeds stored in the database (stateless web nodes)",
    )
    serve.set_defaults(handler=_serve)
    prune = commands.add_parser("prune", help="apply retention now: remove old entries, leaving tombstones")
    prune.set_defaults(handler=_prune, secrets_optional=True)
    dupes = commands.add_parser("dupes", help="recent stories folded from several copies, and why")
    dupes.add_argument("--since", type=_duration, default="7d", help="copies stored this long ago (default 7d)")
    dupes.add_argument("--limit", type=int, default=50, help="at most this many stories (default 50)")
    dupes.add_argument(
        "--all",
        action="store_true",
        help="also list the stories whose copies all share one URL (a feed and its mirror)",
    )
    dupes.add_argument(
        "--explain", nargs=2, metavar=("A", "B"), help="why two items or articles (URLs or ids) fold or do not"
    )
    dupes.set_defaults(handler=_dupes, read_only=True, secrets_optional=True)
    status = commands.add_parser("status", help="one row per source")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status, read_only=True, secrets_optional=True)
    discover = commands.add_parser("discover", help="list the feeds a web page links to")
    discover.add_argument("url", help="a site's page, or a feed")
    discover.set_defaults(plain_handler=_discover)
    sources = commands.add_parser("sources", help="manage the sources list").add_subparsers(
        dest="sources_command", required=True, metavar="ACTION"
    )
    importer = sources.add_parser("import-opml", help="add an OPML file's feeds to the config, keeping its comments")
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--allow-private",
        action="store_true",
        help="also add feeds on loopback, private or link-local addresses (refused by default)",
    )
    importer.set_defaults(config_handler=_import_opml)
    exporter = sources.add_parser("export-opml", help="write the configured sources as OPML")
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exporter.set_defaults(config_handler=_export_opml)
    reset = sources.add_parser("reset", help="clear sources' error backoff, Retry-After wait and gone state")
    reset.add_argument("names", nargs="+", metavar="NAME")
    reset.set_defaults(handler=_reset_sources, secrets_optional=True)
    return parser


def _duration(text: str) -> timedelta:
    """A command-line duration; argparse names a ValueError by the function ("invalid
    parse_duration value"), an ArgumentTypeError by its text."""
    from newsriver.config.schema import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dupes(config: Config, store: Store, args: argparse.Namespace) -> int:
    from newsriver import reports

    return reports.dupes(config, store, args)


def _status(config: Config, store: Store, args: argparse.Namespace) -> int:
    from newsriver import reports

    return reports.status(config, store, args)


def _require_database(url: str) -> None:
    """A command that only reads (status, dupes) never creates an empty database where the
    operator expected theirs: it would report every source as new."""
    from newsriver.store.store import sqlite_file

    file = sqlite_file(url)
    if file is not None and not file.exists():
        raise NewsriverError(f"no database at {file}: run `newsriver poll` first")


def _poll_parser(poll: argparse.ArgumentParser) -> None:
    poll.add_argument("--strict", action="store_true", help="exit 1 when any source failed")
    poll.add_argument(
        "--source", action="append", default=[], metavar="NAME", help="poll only this source (repeatable)"
    )
    poll.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="poll only the sources with this tag (repeatable)"
    )
    poll.set_defaults(handler=_poll)


def _import_opml(_config: Config, path: Path, args: argparse.Namespace) -> int:
    from newsriver.config import opml  # OPML editing keeps the config's comments: ruamel

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise NewsriverError(f"{args.file}: cannot read: {exc.strerror}") from exc
    result = opml.import_opml(path, data, allow_private=args.allow_private)
    for note in result.skipped:
        print(f"skipped {note}")
    print(
        f"{path}: added {counted(len(result.added), 'source')}"
        + (f": {', '.join(result.added)}" if result.added else "")
    )
    return 0


def _reset_sources(config: Config, store: Store, args: argparse.Namespace) -> int:
    from newsriver.run.reset import reset_sources

    unknown = sorted(set(args.names) - {s.name for s in config.sources})
    if unknown:
        raise NewsriverError(f"no source named {', '.join(unknown)} in the config")
    for line in reset_sources(store, args.names):
        print(line)
    return 0


def _export_opml(config: Config, _path: Path, args: argparse.Namespace) -> int:
    from newsriver.config import opml  # ruamel, for the import beside it
    from newsriver.files import write_atomic

    data = opml.export_opml(config.settings.title, config.sources)
    if args.output:
        write_atomic(args.output, data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def _check(config: Config, path: Path, _args: argparse.Namespace) -> int:
    from newsriver.config.load import unset_variables

    # The unset variables were said on stderr too (with their lines); stdout must not say a
    # plain "ok", since poll and run would refuse this config in this environment, and names
    # them itself: stderr may go elsewhere, or come after. Still exit 0: the file is valid,
    # and a shell without the service's secrets is a normal place to check it.
    unset = unset_variables(config)
    verdict = "ok"
    if unset:
        named = ", ".join(f"${{{name}}}" for name in unset)
        verdict = f"valid, but poll and run refuse it until {named} {'is' if len(unset) == 1 else 'are'} set"
    print(
        f"{path}: {verdict}: {counted(len(config.sources), 'source')}, {counted(len(config.feeds), 'feed')} "
        f"({', '.join(f.name for f in config.feeds)}), database {config.settings.database}"
    )
    return 0


def _poll(config: Config, store: Store, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from newsriver.publish.stamp import rendered_from, up_to_date
    from newsriver.run import memory
    from newsriver.run.poll import poll_sources

    names = _chosen_sources(config, args.source, args.tag)
    store.sources.sync((s.name, s.url) for s in config.sources)
    if sys.stdout.isatty():
        outcomes = _poll_with_progress(config, store, names)
    else:
        outcomes = poll_sources(config, store, names, on_outcome=lambda o: print(o.line(), flush=True))
    # Run from cron every few minutes, most polls change nothing: then nothing is rendered,
    # and the renderers are not even imported.
    now = datetime.now(UTC)
    stamp = rendered_from(config, store, now)
    changed: list[Path] = []
    if stamp is None or not up_to_date(config, store, stamp):
        from newsriver.publish.publisher import announce, publish_feeds

        # Publishing brings its own modules (the renderers, the templates): it runs in what
        # the pass's page cache took, not on top of it.
        store.release_memory()
        memory.trim()
        changed = publish_feeds(config, store, now, stamp)
        announce(config, changed)
    from newsriver.run.outcome import summary

    print(summary(outcomes, len(changed), config.settings.output_dir))
    return 1 if any(o.result == "error" for o in outcomes) and args.strict else 0


def _chosen_sources(config: Config, names: list[str], tags: list[str]) -> list[str] | None:
    """The sources ``poll --source/--tag`` names (either matching), in config order; None: all."""
    if not names and not tags:
        return None
    unknown = sorted(set(names) - {s.name for s in config.sources})
    if unknown:
        raise NewsriverError(f"no source named {', '.join(unknown)} in the config")
    chosen = [s.name for s in config.sources if s.name in names or set(tags) & set(s.tags)]
    if not chosen:
        raise NewsriverError(f"no source has the tag {', '.join(tags)}")
    return chosen


def _poll_with_progress(config: Config, store: Store, names: list[str] | None) -> list[Outcome]:
    # The progress bar (rich), a terminal's only.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from newsriver.run import logs
    from newsriver.run.poll import poll_sources

    columns = (
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sources · {task.fields[entries]}"),
        TimeElapsedColumn(),
    )
    # While the bar is shown, rich stands in for sys.stderr: a log line written there is printed
    # above the bar; one written to the stream the log handler was given is glued onto it.
    with Progress(*columns, transient=True) as progress, logs.writing_to(sys.stderr):
        total = len(config.sources) if names is None else len(names)
        task = progress.add_task("poll", total=total, entries=counted(0, "new entry", "new entries"))
        entries = 0

        def report(outcome: Outcome) -> None:
            nonlocal entries
            entries += outcome.new
            style = "red" if outcome.result == "error" else ""
            progress.console.print(outcome.line(), style=style, markup=False, highlight=False)
            progress.update(task, advance=1, entries=counted(entries, "new entry", "new entries"))

        return poll_sources(config, store, names, on_outcome=report)


def _run(config: Config, store: Store, args: argparse.Namespace) -> int:
    from newsriver.config import load as config_module
    from newsriver.run.lock import WriterLock
    from newsriver.run.service import Service  # the scheduler (apscheduler), metrics and the server

    lock = WriterLock(config.settings.database)
    lock.acquire()
    try:
        clean = Service(config_module.resolve_path(args.config), config, store, role=args.role).run()
    finally:
        lock.release()
    if not clean:
        # A fetch outlived the grace period. Everything stored is committed; leave now
        # rather than wait for its timeout (worker threads are joined at normal exit).
        logging.shutdown()
        os._exit(0)
    return 0


def _serve(config: Config, store: Store, args: argparse.Namespace) -> int:
    from newsriver.publish.access import AdminAccess
    from newsriver.publish.serve import FeedServer, close_server, make_server  # waitress
    from newsriver.store.coordination import RenderedDocuments  # with the server's file type

    settings = config.settings
    documents = RenderedDocuments(store) if args.from_database else None
    app = FeedServer(
        settings.output_dir, max_age=config.cache_max_age(), files=documents, admin=AdminAccess.of(settings)
    )
    server = make_server(app, settings.listen_host, settings.listen_port)
    origin = "the database" if documents else settings.output_dir
    print(f"serving {origin} on http://{settings.listen}/", file=sys.stderr, flush=True)
    # The server runs in a thread and the main thread only waits, so a signal never lands
    # inside the server's select loop.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threading.Thread(target=server.run, name="http", daemon=True).start()
    stopping.wait()
    close_server(server)
    return 0


def _prune(config: Config, store: Store, _args: argparse.Namespace) -> int:
    from newsriver.run.poll import utcnow
    from newsriver.run.prune import apply_retention

    pruned = apply_retention(config, store, utcnow())
    configured = [s.name for s in config.sources]
    for name in configured + sorted((pruned.removed.keys() | pruned.kept.keys()) - set(configured)):
        kept = pruned.kept.get(name, 0)
        why = f", kept {kept} past the limits (shown in a feed, or a copy of their story is within its limits)"
        print(f"{name}: removed {pruned.removed.get(name, 0)}" + (why if kept else ""))
    print(
        f"removed {counted(sum(pruned.removed.values()), 'entry', 'entries')} from "
        f"{counted(len(pruned.removed), 'source')}; {counted(pruned.tombstones_expired, 'tombstone')} expired"
    )
    return 0


def _discover(args: argparse.Namespace) -> int:
    # Parsing: feedparser, lxml, nh3.
    from newsriver.ingest.discover import feeds_in
    from newsriver.ingest.fetch import fetch
    from newsriver.ingest.parse import parse
    from newsriver.models import FetchState

    result = fetch(FetchState(args.url))
    found = feeds_in(result)
    if found is None:
        parsed = parse(result.body or b"", result.url, result.content_type)
        title = f' "{parsed.meta.title}"' if parsed.meta.title else ""
        print(f"{result.url} is a feed{title} with {counted(len(parsed.entries), 'entry', 'entries')}")
        return 0
    if not found:
        print(f'{result.url}: an HTML page without a <link rel="alternate"> to a feed', file=sys.stderr)
        return 1
    print(f"{result.url}: {counted(len(found), 'feed')} (a source with this URL polls the first)")
    for link in found:
        print(f"  {link.url}  {link.type}" + (f"  {link.title}" if link.title else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What every benchmark shares, so that no benchmark imports another.

- ``CORPUS``: the external real-world corpus, read in place (``NEWSRIVER_CORPUS``, else
  ``../shared/corpus`` beside the checkout), and ``corpus_path`` to name a file in it.
- The feed farm: N static feeds of M generated entries (``build_farm``, ``churn``), served by
  nginx (``nginx``); a small static HTTP server for answers nginx cannot give
  (``static_server``).
- The syndication corpus: real article texts (``originals``) and the edits other outlets make
  to them (``copies``), for the near-duplicate benchmarks.
- Measuring: a child process's wall time and peak memory (``measure_process``), the CPU and
  memory of a running process tree (``tree_cpu_seconds``, ``tree_pss_mb``), timing a
  function (``median_seconds``, ``least_cpu``), a list of latencies in one line (``spread``),
  and a table (``print_table``).
- The tools compared: the ``reader`` library's venv (``reader_python``), a newsriver config
  for a list of feeds (``newsriver_config``), newsriver's bytecode written as an install
  writes it (``compile_newsriver``).

Benchmarks run as scripts (``python benchmarks/x.py``), so this folder is on ``sys.path``.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import requests

from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse

# --- the corpus ----------------------------------------------------------------------------

CORPUS = Path(os.environ.get("NEWSRIVER_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")


# Which fingerprint path a tree runs (fingerprint.py's C extension or its Python path): a
# tree's build may be missing or stale. A tree from before fingerprint_path is told by its
# _native (one from before the C extension has none).
FINGERPRINT_PATH = (
    "from newsriver.stories import fingerprint as f; "
    "print(f.fingerprint_path() if hasattr(f, 'fingerprint_path') else"
    " 'C extension' if getattr(f, '_native', None) is not None else 'Python path')"
)


def tree_fingerprint_path(env: dict[str, str]) -> str:
    """What FINGERPRINT_PATH prints with ``env`` (a tree first on PYTHONPATH)."""
    ran = subprocess.run([sys.executable, "-c", FINGERPRINT_PATH], env=env, capture_output=True, text=True)
    return ran.stdout.strip() or f"unknown ({ran.stderr.strip()[-200:]})"


def corpus_path(relative: str) -> Path:
    """A path inside the corpus; stops the benchmark with the reason when the corpus is missing."""
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the external corpus, not found at {CORPUS} (set NEWSRIVER_CORPUS)")
    return CORPUS / relative


# --- related coverage's synthetic events (related_cost.py, related_identity.py) ---------------

EVENT_BOILERPLATE = [
    "Read more at the Daily Example website and follow us for the latest news and analysis",
    "Copyright 2026 Metro Courier all rights reserved this material may not be republished",
    "Sign up for our newsletter to get the stories that matter delivered to your inbox every morning",
]


class EventTexts:
    """Headlines and 70-word leads of reports of synthetic events: the words of the corpus's
    181 real article bodies drawn by their own frequencies (common words common), each
    event's reports sharing a few made-up names, a third of them led by a boilerplate line
    (``EVENT_BOILERPLATE``) that tens of thousands of entries share."""

    def __init__(self, rng: random.Random) -> None:
        import json

        pages = json.loads(corpus_path("fulltext/ground-truth.json").read_text(encoding="utf-8"))
        counts: dict[str, int] = {}
        for page in pages.values():
            for w in re.findall(r"[A-Za-z]+", page["articleBody"]):
                counts[w] = counts.get(w, 0) + 1
        self.words = list(counts)
        total, self.cum = 0, []
        for n in counts.values():
            total += n
            self.cum.append(total)  # cumulative once: random.choices would add them up at every call
        self.rng = rng

    def event_words(self) -> list[str]:
        return ["".join(self.rng.choices("bcdfghklmnprstvz", k=3)) + w for w in self.rng.sample(self.words, 4)]

    def entry(self, event: list[str]) -> tuple[str, str]:
        pick = self.rng.choices(self.words, cum_weights=self.cum, k=70)
        title = " ".join(event[:2] + pick[:6])
        lead = " ".join(event + pick[6:])
        if self.rng.random() < 0.33:
            lead = self.rng.choice(EVENT_BOILERPLATE) + " " + lead
        return title, lead


# --- the feed farm ---------------------------------------------------------------------------

FarmEntry = tuple[str, str, str, datetime]  # title, URL, HTML body, published
Farm = dict[int, list[FarmEntry]]


def words() -> list[str]:
    text = corpus_path("articles/cartel-extradition.txt").read_text(encoding="utf-8")
    return [w for w in text.split() if w.isascii()] or ["news"]


def story(rng: random.Random, vocabulary: list[str]) -> tuple[str, str]:
    """A title and a body of 3–7 paragraphs of real words: about 2 kB, an article's size."""
    title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 12))).capitalize()
    paragraphs = [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(40, 90))) for _ in range(rng.randint(3, 7))
    ]
    return title, "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def write_feed(path: Path, index: int, entries: list[FarmEntry]) -> None:
    """Odd feeds as Atom, even ones as RSS 2.0."""
    if index % 2:
        items = "".join(
            f'<entry><title>{escape(title)}</title><id>{url}</id><link href="{url}"/>'
            f'<updated>{when.isoformat()}</updated><content type="html">{escape(body)}</content></entry>'
            for title, url, body, when in entries
        )
        path.write_text(
            f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Feed {index}</title><id>urn:feed:{index}</id><link href="https://f{index}.example/"/>'
            f"<updated>{entries[0][3].isoformat()}</updated>{items}</feed>",
            encoding="utf-8",
        )
    else:
        items = "".join(
            f"<item><title>{escape(title)}</title><link>{url}</link><guid>{url}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate><description>{escape(body)}</description></item>"
            for title, url, body, when in entries
        )
        path.write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {index}</title>'
            f"<link>https://f{index}.example/</link><description>d</description>{items}</channel></rss>",
            encoding="utf-8",
        )


def build_farm(root: Path, feeds: int, per_feed: int, seed: int = 5) -> Farm:
    """Writes ``f0.xml`` … into ``root``; 10 % of the stories also run in another feed."""
    rng = random.Random(seed)
    vocabulary = words()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    farm: Farm = {}
    for f in range(feeds):
        entries = []
        for e in range(per_feed):
            title, body = story(rng, vocabulary)
            entries.append((title, f"https://f{f}.example/story/{e}", body, start + timedelta(minutes=7 * e + f)))
        farm[f] = entries
    # Syndication: 10 % of stories also run in another feed, retitled, under that feed's URL.
    for f in range(feeds):
        for e in range(0, per_feed, 10):
            other = (f + 1 + rng.randrange(max(feeds - 1, 1))) % feeds
            title, _, body, when = farm[f][e]
            farm[other][e] = (f"{title} (syndicated)", f"https://f{other}.example/story/{e}", body, when)
    for f, entries in farm.items():
        write_feed(root / f"f{f}.xml", f, sorted(entries, key=lambda x: x[3], reverse=True))
    return farm


def churn(root: Path, farm: Farm, seed: int = 9, tag: str = "") -> int:
    """Add 5 entries to 10 % of the feeds; returns how many entries were added. Their URLs
    (and ids) differ from those of another churn only with another ``tag``."""
    rng = random.Random(seed)
    vocabulary = words()
    changed = rng.sample(sorted(farm), max(1, len(farm) // 10))
    for f in changed:
        newest = max(e[3] for e in farm[f])
        for n in range(5):
            title, body = story(rng, vocabulary)
            farm[f].append((title, f"https://f{f}.example/new/{tag}{n}", body, newest + timedelta(minutes=n + 1)))
        write_feed(root / f"f{f}.xml", f, sorted(farm[f], key=lambda x: x[3], reverse=True))
    return 5 * len(changed)


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise SystemExit("nginx is needed: apt-get install nginx")
    return found


@contextmanager
def served_farm(feeds: int, per_feed: int, prefix: str) -> Iterator[tuple[Path, str]]:
    """A fresh ingest farm (``build_farm``) served by nginx: a scratch folder and the farm's base URL."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        Path(tmp).chmod(0o755)  # nginx's workers read the farm as another user
        root, work = Path(tmp) / "farm", Path(tmp) / "nginx"
        root.mkdir()
        work.mkdir()
        build_farm(root, feeds, per_feed)
        with nginx(root, work) as base:
            yield Path(tmp), base


@contextmanager
def nginx(root: Path, work: Path, types: str = "application/atom+xml atom; application/rss+xml rss;") -> Iterator[str]:
    """Serve ``root`` with nginx (ETag, Last-Modified and gzip on) and yield its base URL."""
    port = free_port()
    (work / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    for folder in (work, root):
        folder.chmod(0o755)  # nginx workers run as an unprivileged user
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
daemon off;
pid {work / "nginx.pid"};
error_log {work / "nginx-error.log"};
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ {types} }}
  charset utf-8;
  charset_types application/atom+xml application/rss+xml;
  gzip on; gzip_types application/atom+xml application/rss+xml; gzip_vary on;
  client_body_temp_path {work}/nginx-tmp; proxy_temp_path {work}/nginx-tmp; fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp; scgi_temp_path {work}/nginx-tmp;
  server {{ listen 127.0.0.1:{port} backlog=4096; root {root}; etag on; }}
}}
""")
    process = subprocess.Popen([nginx_binary(), "-c", str(conf)])
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_up(base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


# A path's answer: a body and exactly the headers to send with it (no Content-Length unless
# given: the body then ends when the connection closes, as a hostile server's may), or a
# function that writes the whole response itself.
Answer = tuple[bytes, Mapping[str, str]] | Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def static_server(routes: Mapping[str, Answer]) -> Iterator[str]:
    """Serve ``routes`` (path → answer) on 127.0.0.1 from threads; yields the base URL, no
    trailing slash. For what nginx cannot do, and where no nginx is needed."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = routes.get(self.path)
            try:
                if answer is None:
                    self.send_error(404)
                elif callable(answer):
                    answer(self)
                else:
                    body, headers = answer
                    self.send_response(200)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as a fetch past its limits does

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- the syndication corpus -------------------------------------------------------------------

FEED_FILES = ("feeds/feed-rs/*/*.xml", "feeds/feed-rs/jsonfeed/*[0-9].json", "feeds/miniflux/parser/*.xml")
MIN_WORDS = 50  # an article, not a one-line blurb: the corpus copies articles
OUTLETS = ("Daily Example", "Metro Courier", "Wire Service", "Valley Times")


@dataclass(frozen=True)
class Doc:
    title: str
    body: str  # HTML


@dataclass(frozen=True)
class Pair:
    kind: str
    same: bool  # True: copies of one article; False: look-alikes that must stay apart
    a: Doc
    b: Doc


def originals() -> list[Doc]:
    """Real article texts: the corpus article and every long enough entry of the corpus feeds."""
    text = corpus_path("articles/cartel-extradition.txt").read_text(encoding="utf-8")
    title, _, rest = text.partition("\n")
    docs = {(title.strip(), rest.strip()): Doc(title.strip(), html_paragraphs(rest.strip().split("\n\n")))}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for pattern in FEED_FILES:
        for path in sorted(CORPUS.glob(pattern)):
            try:
                feed = parse(path.read_bytes(), "https://feeds.example.org/" + path.name, "")
            except Exception:  # the corpus holds deliberately broken feeds
                continue
            for article in normalize_feed(feed, "corpus", "https://feeds.example.org/" + path.name, now):
                body = article.content or article.summary
                if len(article.text.split()) >= MIN_WORDS:
                    docs.setdefault((article.title, article.text), Doc(article.title, body))
    return list(docs.values())


def html_paragraphs(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs if p.strip())


_BLOCK = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|pre|blockquote|table|tr|td|figure|figcaption)\b[^>]*>", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


def blocks(body: str) -> list[str]:
    """The body's blocks as HTML fragments (lists, headings and code become paragraphs)."""
    return [p.strip() for p in _BLOCK.split(body) if p.strip()]


def copies(doc: Doc, other: Doc, rng: random.Random) -> Iterator[Pair]:
    """``doc`` as other outlets run it: each edit syndication makes, alone and combined."""
    outlet = rng.choice(OUTLETS)
    paragraphs = blocks(doc.body)
    plain = re.sub(r"<[^>]+>", "", " ".join(paragraphs))
    plain_words = plain.split()

    def pair(kind: str, title: str, body: str) -> Pair:
        return Pair(kind, True, doc, Doc(title, body))

    retitle = " ".join(plain_words[:9]).rstrip(",.;:") if plain_words else doc.title
    yield pair("retitled", retitle[:1].upper() + retitle[1:], doc.body)
    yield pair("dateline", doc.title, html_paragraphs([f"({outlet}) — {paragraphs[0]}", *paragraphs[1:]]))
    yield pair("copyright", doc.title, doc.body + f"<p>Copyright © 2025 {outlet}. All rights reserved.</p>")
    yield pair("related", doc.title, doc.body + f'<p>Related: <a href="https://x.example/r">{other.title}</a></p>')
    lead, count = [], 0
    for paragraph in paragraphs:
        lead.append(paragraph)
        count += len(paragraph.split())
        if count >= 40:
            break
    read_more = f'<p>Read more at <a href="https://x.example/">{outlet}</a></p>'
    yield pair("summary", doc.title, html_paragraphs(lead) + read_more)
    inline = " ".join(plain_words[: max(30, len(plain_words) // 4)])
    yield pair("summary-inline", doc.title, inline + f"… Read more at {outlet}.")
    yield pair("markup", doc.title, _restyle(paragraphs))
    sentences = SENTENCE_END.split(plain)
    if len(sentences) >= 3:
        cut = rng.randrange(1, len(sentences) - 1)
        yield pair("sentence-cut", doc.title, " ".join(sentences[:cut] + sentences[cut + 1 :]))
    yield pair("typo-fixed", doc.title, _typo(doc.body, rng))
    yield pair(
        "syndicated",
        retitle.title(),
        _restyle([f"({outlet}) — {paragraphs[0]}", *paragraphs[1:], f"Copyright 2025 {outlet}."]),
    )


def _restyle(paragraphs: list[str]) -> str:
    """Another CMS's markup: <br> for paragraphs, straight quotes curled, entities, emphasis."""
    text = "<br><br>".join(paragraphs)
    text = re.sub(r'"([^"<>]*)"', r"&ldquo;\1&rdquo;", text).replace("'", "&#8217;").replace(" - ", " &mdash; ")
    text = re.sub(r"(?<=\w)([“”])", "&quot;", text)
    first = re.search(r"\b\w{6,}\b", text)
    if first:
        text = text[: first.start()] + f"<strong>{first.group(0)}</strong>" + text[first.end() :]
    return f'<div class="story">{text}</div>'


def _typo(body: str, rng: random.Random) -> str:
    candidates = [m for m in re.finditer(r"(?<=[ >])[a-z]{6,}(?=[ ,.])", body)]
    if not candidates:
        return body
    m = rng.choice(candidates)
    word = m.group(0)
    i = rng.randrange(1, len(word) - 2)
    typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return body[: m.start()] + typo + body[m.end() :]


# --- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float  # the child's own peak resident set (its VmHWM)
    returncode: int
    peak_tree_mb: float = 0.0  # the peak of the whole process tree's summed PSS, sampled
    # User + system CPU of the child and every process it started and waited for (wait4's
    # rusage): on a loaded machine it moves far less than the wall time.
    cpu_seconds: float = 0.0


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _status_kb(pid: int, file: str, field: str) -> int:
    """One ``field:`` of /proc/PID/``file``, in kB; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure_process(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time and peak memory of one child process, both sampled every 20 ms: its own
    peak RSS (VmHWM: unlike wait4's ru_maxrss it does not count the pages of the parent it
    was forked from before it ran the tool), and the peak summed PSS of it and every process
    it started (proportional: pages a forked worker shares with its parent count once)."""
    started = time.monotonic()
    process = subprocess.Popen(
        list(command), env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = [0, 0]  # the child's VmHWM, the tree's summed PSS
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _status_kb(process.pid, "status", "VmHWM:"))
            peak[1] = max(peak[1], sum(_status_kb(pid, "smaps_rollup", "Pss:") for pid in _tree(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{command[0]} failed:\n{process.stderr.read().decode()[-3000:]}")
    return Run(seconds, peak[0] / 1024, process.returncode, peak[1] / 1024, usage.ru_utime + usage.ru_stime)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds ``pid`` and every process under it have used so far: each one's user and
    system time and that of its children it has reaped, so a process that ends between two
    readings stays counted (in its parent's)."""
    ticks = 0
    for current in _tree(pid):
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14–17 of proc(5), 12–15 after the name
        ticks += sum(int(f) for f in stat.rpartition(")")[2].split()[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_pss_mb(pid: int) -> float:
    """The summed proportional set size of ``pid`` and every process under it, in MB."""
    return sum(_status_kb(current, "smaps_rollup", "Pss:") for current in _tree(pid)) / 1024


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the tools compared ----------------------------------------------------------------------


def reader_python(venv: Path) -> Path:
    """The python of a venv holding the ``reader`` library (made on first use: reader's
    dependencies must not mix with ours)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "reader", "sgmllib3k"], check=True)
    return python


def compile_newsriver(src: Path | None = None) -> None:
    """Write newsriver's bytecode (the imported package's, or that under the checkout's
    ``src``), as installing it from a wheel does. An editable install run under
    PYTHONDONTWRITEBYTECODE compiles every module at every start (about 0.1 s of CPU), which
    a tool installed from its wheel, as reader is here, never pays."""
    import compileall

    if src is None:
        import newsriver

        package = Path(newsriver.__file__).parent
    else:
        package = src / "newsriver"
    compileall.compile_dir(package, quiet=1)


def newsriver_config(work: Path, urls: list[str], settings: str) -> Path:
    """A config polling ``urls`` (sources f0, f1, …) into ``work``, ``settings`` added under settings:."""
    sources = "".join(f"  - {{name: f{n}, url: '{url}'}}\n" for n, url in enumerate(urls))
    config = work / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{work / 'newsriver.db'}\n  output_dir: {work / 'out'}\n"
        f"{settings}sources:\n{sources}"
    )
    return config


T = TypeVar("T")


def median_seconds(work: Callable[[], T], runs: int) -> tuple[float, T]:
    """The median wall time of ``runs`` calls of ``work``, and what the last one returned."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def least_cpu(work: Callable[[], object], rounds: int) -> float:
    """The least process time of ``rounds`` calls of ``work``, in seconds: the run the machine disturbed least."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def spread(seconds: Sequence[float]) -> str:
    """Latencies in one line: median, 95th percentile and maximum, in ms."""
    ms = sorted(s * 1e3 for s in seconds)
    p95 = ms[max(int(len(ms) * 0.95) - 1, 0)]
    return f"median {statistics.median(ms):.3f} ms, p95 {p95:.3f} ms, max {ms[-1]:.3f} ms ({len(ms)} runs)"


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1, indent: str = "") -> None:
    """Columns as wide as their widest cell: the first ``left`` (names) left-aligned, the others
    (figures) right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print(indent + "  ".join(cells).rstrip())

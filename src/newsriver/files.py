"""Files: written whole (the output folder's, an exported OPML list, the config a `sources import-opml`
edits), and as served (their bytes and ETag, from the output folder or the database)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The stylesheet Atom and RSS name in <?xml-stylesheet?> (render_common.with_stylesheet), which
# the pages write (publish.site) and the server applies for a browser (publish.serve): here, so
# that the server does not import the pages' module (Jinja2) for its name.
FEED_XSL = "feed.xsl"


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` unless it already holds exactly that; True if written.

    Readers of the folder see the old file or the new one, never a half-written one.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


@dataclass(frozen=True, slots=True)
class ServedFile:
    """A file's bytes as served, from the output folder or the database."""

    data: bytes
    version: str  # changes whenever the bytes do: the ETag
    modified: datetime


def version_of(data: bytes) -> str:
    """The ETag of a file's bytes, from the bytes alone: the publisher's server and every web
    node (``serve --from-database``) send the same one, so a reader behind a load balancer
    gets 304s whichever answers."""
    return hashlib.sha256(data).hexdigest()[:32]

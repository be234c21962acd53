"""The output formats, each with its renderer (render_atom, render_rss, render_json).

Importing this imports the renderers and what they stand on (feedgen, lxml, nh3): the
publisher does so only when a publish renders.
"""

from __future__ import annotations

from newsriver.publish.render_atom import render_atom
from newsriver.publish.render_common import Renderer
from newsriver.publish.render_json import render_json
from newsriver.publish.render_rss import render_rss

RENDERERS: dict[str, Renderer] = {"atom": render_atom, "rss": render_rss, "json": render_json}

"""Article pages as news sites serve them, for the full-text tests: the article among a
cookie banner, navigation, a related-links box and a comments section."""

from __future__ import annotations

import html

COOKIE = "We use cookies to improve your experience and for advertising. Accept all cookies"
RELATED = "Related stories: Stocks rally as markets cheer rate cut hopes"
COMMENT = "First! This is outrageous, says commenter RiverFan"
NAVIGATION = "Home World Business Sport Opinion"


def article_page(title: str, paragraphs: list[str], *, extras: bool = True) -> str:
    """An article page; with ``extras``, the boilerplate around it that must not be taken."""
    body = "".join(
        f'<p class="para" style="color: red" id="p{i}">{html.escape(p)}</p>' for i, p in enumerate(paragraphs)
    )
    article = (
        f'<article class="story"><h1>{html.escape(title)}</h1><p class="byline">By A. Reporter</p>{body}'
        '<p>More in <a href="/world/index.html">our world section</a>.</p></article>'
    )
    if not extras:
        return f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>{article}</body></html>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>var tracking = "do not take me";</script></head><body>
<div id="cookie-banner" class="cookie-consent"><p>{COOKIE}</p><button>OK</button></div>
<header><nav><ul>{"".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in NAVIGATION.split())}</ul></nav></header>
<main>{article}
<aside class="related-links"><h3>Related stories</h3><ul>
<li><a href="/markets/rally">{RELATED}</a></li>
<li><a href="/markets/oil">Oil prices slip on demand worries in Asia</a></li>
<li><a href="/tech/chips">Chipmakers lead gains on Wall Street</a></li></ul></aside>
<section id="comments" class="comments"><h3>Comments (2)</h3>
<div class="comment"><p>{COMMENT}</p></div>
<div class="comment"><p>Great reporting, keep it up, said another reader</p></div></section>
</main><footer><p>© 2025 Example News. All rights reserved. Privacy policy. Terms of use.</p></footer>
</body></html>"""


PARAGRAPHS = [
    "The city council voted on Tuesday to extend the riverside tram line by four kilometres, ending a debate "
    "that has divided the eastern districts for almost a decade.",
    "Supporters said the extension would cut commuting times by a third for some forty thousand residents, "
    "while opponents warned that construction would close the embankment road for at least two summers.",
    "The project is expected to cost 310 million euros, of which the regional government has promised to "
    "cover half, according to documents presented to the council before the vote.",
    "Work is scheduled to begin next spring, and the first trams could run on the new section in 2029 if the "
    "tendering process goes as planned, the transport department said in a statement.",
    "Residents of the affected streets will be offered compensation for noise, and a citizens' panel will "
    "review the construction schedule every six months, the mayor told reporters after the session.",
]

"""A harder near-duplicate corpus: real article texts as outlets really run them.

``build(half)`` returns labelled pairs (``Pair.same``: copies of one text that must fold;
else look-alikes that must stay apart), deterministically (``SEED``).

Originals: the 181 real article bodies of ``fulltext/ground-truth.json`` (``articleBody``,
their headline the page's ``<title>`` without the site's name) and the cartel-extradition
article, each with at least ``MIN_WORDS`` words. They are split by id into two halves: the
**tuning** half (sha256 of the page id even, and the cartel article) and the **held-out** half
(odd). Rules and thresholds were tuned on the tuning half only.

Copies (``same``), each under a new headline (an outlet writes its own) unless the kind says
otherwise:

- ``retitled``: the whole text verbatim;
- ``dateline+byline``: ``CITY (Outlet) —`` before the first paragraph, ``By Name`` above it;
- ``boilerplate``: a copyright line, ``Read more at Outlet``, a related-links list;
- ``spelling``: U.S./US, curly/straight quotes, dashes, another CMS's markup (``<br>``);
- ``cut tail``: the first 45–75 % of the paragraphs;
- ``new lead``: the first paragraph replaced by a rewritten one (the lead's own words
  rearranged, a weekday and the outlet added: "… on Thursday, Outlet reported");
- ``reordered+trimmed``: the middle paragraphs shuffled, one in five dropped;
- ``summary``: the first paragraphs up to 60 words and ``Read more``;
- ``combined``: new headline + new lead + cut tail + dateline + spelling + boilerplate;
- ``teaser`` (reported apart, in neither recall nor false merges: the issue lets a
  two-line teaser fold or not): the first two sentences.

Look-alikes (must stay apart):

- ``templated``: recurring posts of one template (market closes, weather, match reports,
  releases, podcast episodes, lottery draws) whose figures differ, from ``TEMPLATES``;
- ``weekly column``: one column headline and its standing intro and sign-off around two
  other articles' paragraphs;
- ``same event``: another outlet's own article on the event, quoting one or two of the
  original's sentences inside its own paragraphs (another original's), under the same
  headline; plus ``EVENT_PAIRS``, hand-written pairs of independent reports of one event;
- ``digest of briefs`` / ``digest of articles``: a briefing of three headlines, each with
  its article's first 60 words, the original's last; or two other articles whole, then it;
- ``distinct``: every pair of two different originals of the half.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator

from bench import CORPUS, Doc, Pair

SEED = 15
MIN_WORDS = 120  # an article long enough to be cut, reordered and still be a copy
OUTLETS = ("Daily Example", "Metro Courier", "Wire Service", "Valley Times", "The Ledger")
CITIES = ("WASHINGTON", "LONDON", "MEXICO CITY", "NEW YORK", "BERLIN")
NAMES = ("Jane Doe", "Ahmed Karim", "Lucia Ferreira", "Tom O'Neil")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
# An editor's new headline does not name a month or weekday the text does not put first.
_MONTHS_AND_DAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august"
    " september october november december".split()
)


def originals() -> dict[str, tuple[str, list[str]]]:
    """Every original by id: (headline, paragraphs)."""
    found: dict[str, tuple[str, list[str]]] = {}
    cartel = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8")
    title, _, rest = cartel.partition("\n")
    found["cartel-extradition"] = (title.strip(), _split(rest))
    truth = json.loads((CORPUS / "fulltext" / "ground-truth.json").read_text(encoding="utf-8"))
    for page, record in sorted(truth.items()):
        paragraphs = _split(record["articleBody"])
        if len(" ".join(paragraphs).split()) >= MIN_WORDS and len(paragraphs) >= 3:
            found[page] = (_headline(page), paragraphs)
    return found


def half_of(page: str) -> str:
    if page == "cartel-extradition":
        return "tuning"
    return "tuning" if int(hashlib.sha256(page.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def _split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def _headline(page: str) -> str:
    page_html = gzip.decompress((CORPUS / "fulltext" / "html" / f"{page}.html.gz").read_bytes())
    found = re.search(rb"<title[^>]*>(.*?)</title>", page_html, re.S | re.I)
    title = found.group(1).decode("utf-8", "replace") if found else ""
    # "Headline - Site", "Headline | Site", "Opinion | Headline - Site"
    title = re.split(r"\s+[-|–—]\s+(?!.*\s[-|–—]\s)", title.strip())[0] if title else ""
    return re.sub(r"\s+", " ", title.split(" | ")[-1]).strip()


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs if p.strip())


_SENTENCE_END = re.compile(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])")
_FIGURE = re.compile(r"\d+(?:[.,:]\d+)*")


def _new_headline(paragraphs: list[str], rng: random.Random) -> str:
    """What another outlet's editor might write: some content words of the text, reordered."""
    words = [w.strip(",.;:“”\"'()") for w in " ".join(paragraphs[:3]).split()]
    content = [w for w in words if len(w) > 4 and w.isalpha() and w.lower() not in _MONTHS_AND_DAYS]
    picked = rng.sample(content, min(5, len(content))) if content else ["Report"]
    return " ".join(picked).capitalize() + rng.choice(("", ", officials say", ": what we know", " as talks go on"))


def _new_lead(lead: str, outlet: str, rng: random.Random) -> str:
    words = [w for w in re.sub(r"[^\w\s'-]", " ", lead).split() if len(w) > 3]
    rng.shuffle(words)
    return f"{' '.join(words[:14]).capitalize()} on {rng.choice(WEEKDAYS)}, {outlet} reported."


def _spelling(text: str) -> str:
    text = text.replace("U.S.", "US").replace("“", '"').replace("”", '"').replace("’", "'").replace("—", "--")
    return text.replace(" - ", " – ")


def _boilerplate(outlet: str, rng: random.Random) -> list[str]:
    related = "".join(f"<li><a href='https://x.example/{i}'>{t}</a></li>" for i, t in enumerate(RELATED))
    lines = [f"Read more at {outlet}.", f"Related stories:<ul>{related}</ul>"]
    rng.shuffle(lines)
    return [*lines, f"Copyright © 2025 {outlet}. All rights reserved."]


RELATED = ("Five things to know this week", "Markets at a glance", "Opinion: what comes next")


def copies(title: str, paragraphs: list[str], rng: random.Random) -> Iterator[tuple[str, Doc]]:
    outlet = rng.choice(OUTLETS)
    headline = _new_headline(paragraphs, rng)
    cut = paragraphs[: max(2, round(len(paragraphs) * rng.uniform(0.45, 0.75)))]
    yield "retitled", Doc(headline, _html(paragraphs))
    dateline = f"{rng.choice(CITIES)} ({outlet}) — "
    yield (
        "dateline+byline",
        Doc(headline, _html([f"By {rng.choice(NAMES)}", dateline + paragraphs[0], *paragraphs[1:]])),
    )
    yield "boilerplate", Doc(headline, _html(paragraphs + _boilerplate(outlet, rng)))
    restyled = "<br><br>".join(_spelling(p) for p in paragraphs)
    yield "spelling", Doc(_spelling(headline), f"<div class='story'>{restyled}</div>")
    yield "cut tail", Doc(headline, _html(cut))
    yield "new lead", Doc(headline, _html([_new_lead(paragraphs[0], outlet, rng), *paragraphs[1:]]))
    middle = paragraphs[1:-1]
    rng.shuffle(middle)
    kept = [p for p in middle if rng.random() >= 0.2]
    yield "reordered+trimmed", Doc(headline, _html([paragraphs[0], *kept, paragraphs[-1]]))
    summary, count = [], 0
    for p in paragraphs:
        summary.append(p)
        count += len(p.split())
        if count >= 60:
            break
    yield "summary", Doc(headline, _html([*summary, f"Read more at {outlet}"]))
    combined = [dateline + _new_lead(paragraphs[0], outlet, rng), *cut[1:]]
    yield "combined", Doc(headline, _html([_spelling(p) for p in combined] + _boilerplate(outlet, rng)))
    sentences = _SENTENCE_END.split(" ".join(paragraphs))
    yield "teaser", Doc(headline, _html([" ".join(sentences[:2])]))


def look_alikes(
    original: Doc, paragraphs: list[str], others: list[tuple[str, list[str]]], rng: random.Random
) -> Iterator[tuple[str, Doc, Doc]]:
    (_, first), (_, second) = others[0], others[1]
    intro = "Every week our editors pick the stories you may have missed. Here is this week's selection."
    sign_off = "That's all for this week. Write to us with your tips and we will be back next Friday."
    yield (
        "weekly column",
        Doc("This week in review", _html([intro, *paragraphs[: len(paragraphs) // 2], sign_off])),
        Doc("This week in review", _html([intro, *first[: len(first) // 2], sign_off])),
    )
    sentences = [s for s in _SENTENCE_END.split(" ".join(paragraphs)) if 8 <= len(s.split()) <= 40]
    quoted = rng.sample(sentences, min(2, len(sentences)))
    yield "same event", original, Doc(original.title, _html([*second[:2], *quoted, *second[2:6]]))
    briefs = [
        f"{brief_title}: {' '.join(' '.join(brief).split()[:60])}"
        for brief_title, brief in [*others, (original.title, paragraphs)]
    ]
    yield "digest of briefs", original, Doc("Morning briefing", _html(briefs))
    yield "digest of articles", original, Doc("Morning briefing", _html([*first, *second, *paragraphs]))


def templated(rng: random.Random) -> Iterator[tuple[str, Doc, Doc]]:
    """Two instances of each template, with other figures (and often another weekday)."""
    for template in TEMPLATES:
        for _ in range(6):
            a, b = _fill(template, rng), _fill(template, rng)
            if a != b:
                yield "templated", Doc(*a), Doc(*b)


def _fill(template: tuple[str, str], rng: random.Random) -> tuple[str, str]:
    values = {
        "n": str(rng.randrange(2, 99)),
        "m": str(rng.randrange(2, 99)),
        "price": f"{rng.uniform(60, 90):.2f}",
        "change": f"{rng.uniform(0.1, 3):.1f}",
        "day": rng.choice(WEEKDAYS),
        "version": f"{rng.randrange(1, 4)}.{rng.randrange(0, 12)}.{rng.randrange(0, 9)}",
        "temp": str(rng.randrange(-5, 35)),
    }
    return template[0].format(**values), "".join(f"<p>{p.format(**values)}</p>" for p in template[1].split("\n"))


TEMPLATES = (
    (
        "Brent crude closes at ${price}",
        "Brent crude futures settled at ${price} a barrel on {day}, a move of {change} percent, as traders weighed"
        " OPEC+ output plans against signs of slowing demand in Asia.\nThe international benchmark has traded in a"
        " narrow band for most of the month, and analysts expect little change before the next meeting of"
        " producers. Volumes were light across the board.",
    ),
    (
        "Weather for {day}: highs near {temp}",
        "Expect highs near {temp} degrees on {day} with winds from the west at {n} kilometres an hour.\nThe weather"
        " service says the pattern will hold through the weekend, with a chance of showers in the hills and"
        " clearer skies along the coast. Check back tomorrow morning for the updated forecast and any warnings.",
    ),
    (
        "Rovers beat United {n}-{m} in league match",
        "Rovers beat United {n}-{m} on {day} night in front of a home crowd, with the decisive goal coming in the"
        " {m}th minute.\nThe manager praised the side's defensive discipline and said the squad would now turn its"
        " attention to the cup fixture next week. Tickets for the next home match go on sale on the club website.",
    ),
    (
        "Release {version} of the toolkit is out",
        "Version {version} of the toolkit is now available for download from the project website and the usual"
        " package repositories.\nThis release fixes several bugs reported by users and improves the documentation."
        " As always, please read the upgrade notes before updating a production system, and report any problem on"
        " the issue tracker.",
    ),
    (
        "Episode {n}: the long way home",
        "In episode {n} of the podcast we sit down with the people who build the tools we use every day and talk"
        " about what went well, what went wrong, and what they would do differently next time.\nSubscribe wherever"
        " you get your podcasts and send us your questions for the next show.",
    ),
    (
        "Lottery results for {day}",
        "The winning numbers in {day}'s draw were {n}, {m} and {temp}, the lottery operator said. The jackpot now"
        " stands at {price} million.\nNo ticket matched all the numbers, and the prize rolls over to the next draw."
        " Players have 180 days to claim a prize at any authorised retailer or through the official app.",
    ),
)

EVENT_PAIRS = (
    (
        Doc(
            "Mexico sends 29 cartel figures to the US",
            "<p>Mexico on Thursday sent 29 prisoners accused of drug trafficking to the United States, the largest"
            " such transfer in years, as officials from both countries met in Washington to discuss trade and"
            " security.</p><p>Among them was Rafael Caro Quintero, sought for decades over the 1985 killing of a DEA"
            " agent. Security analysts in Mexico City said the move was meant to ease pressure over tariffs.</p>"
            "<p>They warned that the cartels would quickly replace the leaders they lost, as they have after every"
            " arrest, and that violence in several states could rise as factions fight over routes.</p>",
        ),
        Doc(
            "Caro Quintero among 29 handed to US by Mexico",
            "<p>Drug lord Rafael Caro Quintero was among 29 people Mexico transferred to US custody, the Justice"
            " Department said, in a move officials in Washington welcomed as a sign of cooperation.</p><p>The"
            " transfer came as a Mexican delegation held talks on tariffs threatened by the White House. Prosecutors"
            " said the defendants would appear in federal courts in several cities in the coming days.</p><p>Family"
            " members of the DEA agent killed in 1985 said they hoped the case would finally bring justice.</p>",
        ),
    ),
    (
        Doc(
            "Storm cuts power to thousands across the coast",
            "<p>A fierce storm swept across the coast overnight, cutting power to more than 40,000 homes and"
            " toppling trees onto roads, the regional utility said on Friday.</p><p>Crews worked through the"
            " morning to restore supply, and officials urged drivers to stay off flooded roads. Schools in two"
            " districts closed for the day.</p><p>Forecasters expect the winds to ease by the evening, though more"
            " rain is on the way for the weekend.</p>",
        ),
        Doc(
            "Thousands without electricity after overnight storm",
            "<p>Residents woke up to fallen trees and dark houses after a storm brought gusts of up to 110 km/h to"
            " the coast. The utility said about 40,000 customers had lost power at the height of the storm.</p>"
            "<p>Emergency services answered hundreds of calls, mostly for trees on cars and roofs, but no one was"
            " seriously hurt. The mayor thanked volunteers who helped clear streets.</p><p>Power should be back for"
            " most homes by Saturday, the utility said.</p>",
        ),
    ),
    (
        Doc(
            "Central bank holds rates steady",
            "<p>The central bank left its main interest rate unchanged on Wednesday, saying inflation was easing"
            " but remained above its target.</p><p>Policymakers voted seven to two to hold, with the two dissenters"
            " favouring a cut. The governor said the bank would watch wage growth closely in the coming months.</p>"
            "<p>Markets had expected the decision, and the currency moved little after the announcement.</p>",
        ),
        Doc(
            "Rates unchanged as bank waits for clearer inflation picture",
            "<p>Borrowers will have to wait longer for relief after the central bank kept rates where they are."
            " Two members of the committee wanted a cut, the minutes showed.</p><p>Economists said a first"
            " reduction could come in the summer if price growth keeps slowing. Mortgage lenders said they did"
            " not expect to change their offers this week.</p><p>Business groups called on the bank to act sooner"
            " to support investment.</p>",
        ),
    ),
)


def build(half: str, seed: int = SEED) -> list[Pair]:
    """The labelled pairs of one half ("tuning" or "held-out")."""
    rng = random.Random(f"{seed}-{half}")
    chosen = [(page, doc) for page, doc in originals().items() if half_of(page) == half]
    pairs: list[Pair] = []
    docs: list[Doc] = []
    for i, (_, (title, paragraphs)) in enumerate(chosen):
        original = Doc(title, _html(paragraphs))
        docs.append(original)
        for kind, copy in copies(title, paragraphs, rng):
            pairs.append(Pair(kind, True, original, copy))
        others = [chosen[(i + k) % len(chosen)][1] for k in (1, 2)]
        pairs.extend(Pair(kind, False, a, b) for kind, a, b in look_alikes(original, paragraphs, others, rng))
    for kind, a, b in templated(rng):
        pairs.append(Pair(kind, False, a, b))
    pairs.extend(Pair("same event", False, a, b) for a, b in EVENT_PAIRS)
    for i, a in enumerate(docs):
        pairs.extend(Pair("distinct", False, a, b) for b in docs[i + 1 :])
    return pairs

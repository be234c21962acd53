"""Near-duplicate decisions as pure functions: texts in, verdict out."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from newsriver.models import Article
from newsriver.stories.fingerprint import MIN_SHARED_KEYS, Fingerprint, compare, fingerprint
from newsriver.stories.match import Candidate, Copy, compose, match_story

from .conftest import CORPUS, skip_module_without_corpus
from .factories import make_article

skip_module_without_corpus()

THRESHOLD = 0.6  # the shipped default of settings.dedupe.threshold
T = datetime(2026, 2, 27, 18, 0, tzinfo=UTC)


def _cartel() -> tuple[str, list[str]]:
    title, _, body = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8").partition("\n")
    return title.strip(), [p.strip() for p in body.split("\n\n") if p.strip()]


TITLE, PARAGRAPHS = _cartel()
FULL = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)


def same(a: Fingerprint, b: Fingerprint) -> bool:
    """What Store.save does with a pair: the index must offer it, the decision accept it."""
    similarity = compare(a, b)
    return len(a.keys & b.keys) >= MIN_SHARED_KEYS and not similarity.veto and similarity.score >= THRESHOLD


ORIGINAL = fingerprint(TITLE, FULL)


@pytest.mark.parametrize(
    ("edit", "title", "body"),
    [
        (
            "dateline, copyright and related links",
            TITLE,
            "<p>(Metro Courier) — "
            + "</p><p>".join(PARAGRAPHS[2:-1])
            + "</p><p>Related: <a href='https://m.example/x'>Five things to know about tariffs</a></p>"
            + "<p>Copyright © 2025 Metro Courier. All rights reserved.</p>",
        ),
        ("retitled", "Mexico hands 29 cartel figures to the United States", FULL),
        (
            "summary with read more",
            TITLE,
            "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:3])
            + "<p>Read more at <a href='https://v.example'>VitalNews</a></p>",
        ),
        (
            "markup and quote style",
            TITLE,
            "<div>"
            + "<br><br>".join(p.replace("“", '"').replace("”", '"').replace("’", "'") for p in PARAGRAPHS)
            + "</div>",
        ),
        ("a sentence cut", TITLE, "".join(f"<p>{p}</p>" for i, p in enumerate(PARAGRAPHS) if i != 7)),
        ("a typo fixed", TITLE, FULL.replace("extradition operations", "extradition operatoins")),
    ],
)
def test_a_syndicated_copy_is_the_same_article(edit: str, title: str, body: str) -> None:
    copy = fingerprint(title, body)
    assert same(ORIGINAL, copy), compare(ORIGINAL, copy)
    assert same(copy, ORIGINAL)


def _templated(figure: str, day: str) -> Fingerprint:
    return fingerprint(
        f"Brent crude closes at ${figure}",
        f"<p>Brent crude futures settled at ${figure} a barrel on {day}, as traders weighed OPEC+ output plans "
        "against signs of slowing demand in Asia. The international benchmark has traded in a narrow band for "
        "most of the month, and analysts expect little change before the next meeting of producers. Volumes "
        "were light across the board, with many desks closed ahead of the holiday weekend.</p>",
    )


def test_templated_posts_that_differ_in_figures_stay_apart() -> None:
    monday, tuesday = _templated("71.42", "Monday"), _templated("71.45", "Tuesday")
    similarity = compare(monday, tuesday)
    assert similarity.score > 0.5  # the template alone would merge them
    assert "71.42" in similarity.veto and not same(monday, tuesday)


def test_templated_posts_that_differ_in_a_date_only_stay_apart() -> None:
    assert not same(_templated("71.42", "Monday"), _templated("71.42", "Tuesday"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Episode 41: The long way home", "Episode 42: The long way home"),
        ("Release 2.3.1", "Release 2.3.2"),
    ],
)
def test_numbered_posts_with_one_description_stay_apart(a: str, b: str) -> None:
    description = (
        "<p>Every week we sit down with the people who build the tools we use every day and talk about what "
        "went well, what went wrong, and what they would do differently next time. Subscribe wherever you get "
        "your podcasts and send us your questions for the next show.</p>"
    )
    first, second = fingerprint(a, description), fingerprint(b, description)
    assert compare(first, second).veto
    assert not same(first, second)


def test_a_weekly_column_under_one_headline_is_not_last_weeks() -> None:
    half = len(PARAGRAPHS) // 2
    this_week = fingerprint("Weekly roundup", "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:half]))
    last_week = fingerprint("Weekly roundup", "".join(f"<p>{p}</p>" for p in PARAGRAPHS[half:]))
    assert not same(this_week, last_week)


def test_another_outlets_own_article_on_the_same_event_stays_apart() -> None:
    own = fingerprint(
        TITLE,
        "<p>Mexico on Thursday sent 29 prisoners accused of drug trafficking to the United States, the largest "
        "such transfer in years, as officials from both countries met in Washington to discuss trade.</p>"
        "<p>Among them was Rafael Caro Quintero, sought for decades over the 1985 killing of a DEA agent. "
        "“As President Trump has made clear, cartels are terrorist groups, and this Department of Justice is "
        "devoted to destroying cartels and transnational gangs,” Attorney General Pamela Bondi said in a "
        "statement.</p><p>Security analysts in Mexico City said the move was meant to ease pressure over "
        "tariffs, and warned that the cartels would quickly replace the leaders they lost.</p>",
    )
    assert not same(ORIGINAL, own), compare(ORIGINAL, own)


def test_a_digest_that_contains_a_story_is_not_that_story() -> None:
    # The story in full after another as long (its words reversed: other phrases, same length).
    other = "".join(f"<p>{' '.join(p.split()[::-1])}</p>" for p in PARAGRAPHS)
    digest = fingerprint("Morning briefing", other + FULL)
    similarity = compare(ORIGINAL, digest)
    # Contained whatever the headlines (issue 15), but the digest opens with another story.
    assert similarity.veto and not same(ORIGINAL, digest), similarity


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Egypt Launches Offensive Against Sinai Militants", "Egypt launches offensive against Sinai insurgents", True),
        ("Liquid ammonia leak kills 15 in Shanghai", "Liquid ammonia leak kills at least 15 in Shanghai", True),
        ("Liquid ammonia leak kills 15 in Shanghai", "Liquid ammonia leak kills 16 in Shanghai", False),
        ("Weekly roundup", "Weekly roundup", False),  # too little to tell
        ("JK Rowling launches her first adult novel", "Syria launches ground assault in Aleppo", False),
    ],
)
def test_headlines_alone(a: str, b: str, expected: bool) -> None:
    assert same(fingerprint(a, ""), fingerprint(b, "")) is expected


def test_copies_share_index_keys_and_different_articles_do_not() -> None:
    copy = fingerprint("Mexico hands 29 cartel figures to the United States", FULL)
    stranger = fingerprint("Weekly roundup", "".join(f"<p>{p[::-1]}</p>" for p in PARAGRAPHS))
    assert len(ORIGINAL.keys & copy.keys) >= MIN_SHARED_KEYS
    assert not ORIGINAL.keys & stranger.keys


@pytest.mark.parametrize(
    "made",
    [ORIGINAL, fingerprint(TITLE, "<p>" + PARAGRAPHS[0] + "</p>"), fingerprint("Weekly roundup", "")],
    ids=["full text", "short body", "headline only"],
)
def test_a_fingerprint_comes_back_whole_from_a_parse_worker(made: Fingerprint) -> None:
    # Workers send fingerprints to the store by pickle, which Fingerprint packs its own way.
    back = pickle.loads(pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))
    for field in Fingerprint.__slots__:
        mine, theirs = getattr(made, field), getattr(back, field)
        if isinstance(mine, np.ndarray):
            assert theirs.dtype == mine.dtype and theirs.tolist() == mine.tolist(), field
        else:
            assert theirs == mine, field
    assert compare(back, made).score == compare(made, made).score


# --- choosing a story ----------------------------------------------------------------


def candidate(id: str, cluster: str, fp: Fingerprint, *sources: str) -> Candidate:
    return Candidate(id, cluster, fp, frozenset(sources))


def test_a_copy_joins_the_story_it_matches() -> None:
    match = match_story(fingerprint("Retitled", FULL), "metro", [candidate("w1", "w1", ORIGINAL, "wire")], THRESHOLD)
    assert match is not None and (match.cluster, match.copy) == ("w1", "w1")
    assert match.similarity.score > 0.9


def test_a_story_takes_one_copy_per_source() -> None:
    # A source's own look-alike (a templated series, an update under a new URL) is its own news.
    assert match_story(ORIGINAL, "wire", [candidate("w1", "w1", ORIGINAL, "wire")], THRESHOLD) is None
    assert match_story(ORIGINAL, "metro", [candidate("d1", "w1", ORIGINAL, "wire", "metro")], THRESHOLD) is None


def test_no_match_below_the_threshold() -> None:
    summary = fingerprint(TITLE, "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:3]))
    assert match_story(summary, "metro", [candidate("w1", "w1", ORIGINAL, "wire")], 1.01) is None


def test_the_choice_between_stories_does_not_depend_on_their_order() -> None:
    a, b = candidate("b2", "b2", ORIGINAL, "b"), candidate("a1", "a1", ORIGINAL, "a")
    first = match_story(ORIGINAL, "c", [a, b], THRESHOLD)
    second = match_story(ORIGINAL, "c", [b, a], THRESHOLD)
    assert first == second and first is not None and first.cluster == "a1"


def test_a_copy_of_two_stories_bridges_them_while_each_source_has_one_copy() -> None:
    a, b = candidate("a1", "a1", ORIGINAL, "a"), candidate("b1", "b1", ORIGINAL, "b")
    match = match_story(ORIGINAL, "c", [b, a], THRESHOLD)
    assert match is not None and (match.cluster, match.bridged) == ("a1", ("b1",))
    # Story b1 has a copy from source a already: joined with a1, a would have two.
    both = candidate("b1", "b1", ORIGINAL, "b", "a")
    match = match_story(ORIGINAL, "c", [both, a], THRESHOLD)
    assert match is not None and (match.cluster, match.bridged) == ("a1", ())
    # A story that does not match is never bridged.
    stranger = candidate("s1", "s1", fingerprint("Weekly roundup", "<p>Nothing alike at all here.</p>"), "s")
    match = match_story(ORIGINAL, "c", [a, stranger], THRESHOLD)
    assert match is not None and match.bridged == ()


def article(id: str, source: str, published: datetime, text: str, first_seen: datetime | None = None) -> Article:
    return make_article(
        id=id,
        source=source,
        entry_key=id,
        url=f"https://{source}.example/{id}",
        canonical_url=f"https://{source}.example/{id}",
        title=f"{source} headline",
        content=f"<p>{text}</p>",
        text=text,
        published=published,
        updated=published,
        first_seen=first_seen or published,
        content_hash=id,
    )


def test_a_story_keeps_the_id_of_its_first_stored_copy_and_shows_the_earliest_published() -> None:
    kept = article("k", "daily", T + timedelta(minutes=20), "summary", first_seen=T + timedelta(hours=1))
    earlier = article("e", "wire", T, "summary text", first_seen=T + timedelta(hours=2))
    story = compose("k", [earlier, kept], {})
    assert story.item.id == "k"
    assert story.item.source == "wire" and story.item.published == T
    assert story.copies == (Copy("daily", kept.url, kept.title, kept.published),)
    assert compose("k", [kept, earlier], {}) == story  # the order members come in changes nothing


def test_priority_outranks_the_earliest_copy() -> None:
    kept = article("k", "daily", T + timedelta(minutes=20), "summary")
    earlier = article("e", "wire", T, "summary")
    assert compose("k", [kept, earlier], {"daily": 5}).item.source == "daily"


def test_a_longer_copy_lends_its_text_without_changing_the_id() -> None:
    summary = article("k", "wire", T, "Mexico sent 29 cartel figures.")
    full = article("f", "metro", T + timedelta(hours=1), "Mexico sent 29 cartel figures. " * 10)
    story = compose("k", [summary, full], {})
    assert story.item.id == "k" and story.item.source == "wire"
    assert story.item.content == full.content and story.item.summary == summary.content


def test_a_feed_without_the_first_copys_source_keeps_its_own_first_copy() -> None:
    a = article("a", "metro", T + timedelta(minutes=5), "x", first_seen=T + timedelta(hours=1))
    b = article("b", "gazette", T, "x", first_seen=T + timedelta(hours=2))
    assert compose("k", [b, a], {}).item.id == "a"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            ("Source 0 story 0", "Body of story 0 from source 0."),
            ("Source 1 story 0", "Body of story 0 from source 1."),
        ),
        (
            ("Source 2 story 0", "Body of story 0 from source 2."),
            ("Source 0 story 2", "Body of story 2 from source 0."),
        ),
        (("Day 2 of 7: the trial", "Jurors heard witnesses."), ("Day 7 of 2: the trial", "Jurors heard witnesses.")),
    ],
)
def test_short_templated_items_with_other_or_reordered_figures_stay_apart(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    # Found by the multi-worker test's synthetic feeds: short items are compared by their
    # words, and a figure set that merely contains the other's used to let them merge.
    similarity = compare(fingerprint(*first), fingerprint(*second))
    assert similarity.veto, similarity


# --- issue 15: a copy is recognized by its text, whatever its headline -------------------

NEW_LEAD = (
    "Mexico on Thursday sent 29 alleged cartel leaders to the United States, among them Rafael Caro Quintero, "
    "in one of the largest such transfers in the country's history."
)
STORY = PARAGRAPHS[2:-1]  # no photo caption or copyright line


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


@pytest.mark.parametrize(
    ("title", "paragraphs"),
    [
        ("Mexico sends 29 cartel figures north", [NEW_LEAD, *STORY[1:9]]),
        ("Cartel bosses face American courts", [STORY[i] for i in (4, 1, 2, 7, 6, 9, 11, 12, 10, 15, 16)]),
        ("Caro Quintero among 29 extradited", [p.replace("U.S.", "US") for p in STORY[:12]]),
        (
            "Drug lords flown north",
            ["By Jane Doe", f"MEXICO CITY (The Ledger) — {STORY[0]}", *STORY[1:10], "Related stories:",
             "Five things to know this week", "Markets at a glance", "Read more at The Ledger."],
        ),
    ],
    ids=["new lead", "reordered and trimmed", "cut with US for U.S.", "dateline, byline, related links"],
)  # fmt: skip
def test_a_copy_under_another_headline_is_the_same_article(title: str, paragraphs: list[str]) -> None:
    copy = fingerprint(title, _html(paragraphs))
    similarity = compare(ORIGINAL, copy)
    assert same(ORIGINAL, copy), similarity
    assert similarity.basis == "contained" and same(copy, ORIGINAL)


def test_a_figure_deep_in_the_body_of_a_copy_does_not_set_it_apart() -> None:
    # An update or a correction: "$20 million" became "$25 million" in paragraph 12.
    edited = [p.replace("$20 million", "$25 million") for p in STORY]
    assert edited != STORY
    assert same(ORIGINAL, fingerprint("Mexico extradites cartel leaders", _html(edited)))


def test_a_lead_that_says_the_same_with_another_figure_is_another_post() -> None:
    monday = _html([f"Brent crude futures settled at $71.42 a barrel on Monday. {STORY[1]}", *STORY[2:6]])
    tuesday = _html([f"Brent crude futures settled at $71.42 a barrel on Tuesday. {STORY[1]}", *STORY[2:6]])
    similarity = compare(fingerprint("Oil report", monday), fingerprint("Oil report", tuesday))
    assert similarity.veto == "figures differ: monday, tuesday", similarity


def test_a_long_shared_run_under_its_own_long_opening_is_not_a_copy() -> None:
    # A digest whose first story is another, long one: the shared text starts too late.
    other = [" ".join(p.split()[::-1]) for p in PARAGRAPHS[:8]]
    digest = fingerprint("Morning briefing", _html([*other, *STORY[:10]]))
    assert not same(fingerprint(TITLE, _html(STORY[:10])), digest)


def test_us_and_u_s_are_one_word() -> None:
    dotted = fingerprint("", "<p>Officials in the U.S. said the U.S. flights left on time.</p>")
    plain = fingerprint("", "<p>Officials in the US said the US flights left on time.</p>")
    assert dotted.words == plain.words

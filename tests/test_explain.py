"""dupes --explain: as a pure function (two articles in, the deciding rule and scores out), and
through the CLI on a stored database for its related-coverage part."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from newsriver.cli import main
from newsriver.models import Article
from newsriver.stories.explain import explain_pair, explain_related
from newsriver.stories.match import NearPolicy
from newsriver.stories.related import RelatedPolicy, Report, lead_of, term_key, vector

from .conftest import CORPUS, ConfigWriter, FixtureServer, skip_module_without_corpus
from .factories import WHEN, make_article
from .test_five_outlets import NEW_LEAD, rss

skip_module_without_corpus()

POLICY = NearPolicy(0.6, timedelta(days=7))
TITLE, _, REST = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8").partition("\n")
PARAGRAPHS = [p.strip() for p in REST.split("\n\n") if p.strip()][1:-1]
LONG_HEADLINE = "A storm of a week on the coast, and the ferries that kept running through it"


def article(source: str, title: str, paragraphs: list[str], **fields: object) -> Article:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    values: dict[str, object] = {"id": source, "source": source, "title": title, "content": body}
    return make_article(**(values | fields))


def brent(price: str, day: str) -> list[str]:
    return [
        f"Brent crude futures settled at ${price} a barrel on {day}, as traders weighed OPEC+ output plans against"
        " signs of slowing demand in Asia. The international benchmark has traded in a narrow band for most of"
        " the month, and analysts expect little change before the next meeting of producers. Volumes were light."
    ]


FULL = article("wire", TITLE, PARAGRAPHS)


def test_a_cut_copy_under_another_headline_folds_as_contained() -> None:
    copy = article("daily", "Caro Quintero among 29 extradited", PARAGRAPHS[:12])
    explained = explain_pair(FULL, copy, POLICY)
    assert explained.folds and explained.rule == "contained"
    assert dict(explained.scores)["containment"] == "1.00"
    assert explained.lines()[0] == "folded: one story (rule: contained)"


@pytest.mark.parametrize(
    ("other", "rule"),
    [
        (article("wire", "Another headline", PARAGRAPHS[:12], id="w2"), "one source"),
        (article("daily", TITLE, PARAGRAPHS, published=WHEN + timedelta(days=8)), "window"),
        (article("daily", "Weekly roundup", [p[::-1] for p in PARAGRAPHS]), "index"),
        (article("daily", "Morning briefing", [" ".join(p.split()[::-1]) for p in PARAGRAPHS] + PARAGRAPHS), "opening"),
    ],
    ids=["one source", "outside the window", "nothing shared", "a digest"],
)
def test_pairs_that_do_not_fold_say_which_rule_kept_them_apart(other: Article, rule: str) -> None:
    explained = explain_pair(FULL, other, POLICY)
    assert not explained.folds and explained.rule == rule, explained
    assert explained.lines()[0] == f"not folded: two stories (rule: {rule})"


def test_templated_posts_are_kept_apart_by_their_figures() -> None:
    monday = article("a", "Brent crude closes at $71.42", brent("71.42", "Monday"))
    tuesday = article("b", "Brent crude closes at $71.45", brent("71.45", "Tuesday"))
    explained = explain_pair(monday, tuesday, POLICY)
    assert not explained.folds and explained.rule == "figures" and "71.42" in explained.why


def test_below_the_threshold() -> None:
    half = article("daily", "Cartel figures", PARAGRAPHS[:6] + [" ".join(p.split()[::-1]) for p in PARAGRAPHS[6:]])
    explained = explain_pair(FULL, half, POLICY)
    assert (explained.folds, explained.rule) == (False, "threshold"), explained


def test_the_same_url_folds() -> None:
    url = "https://news.example/cartel"
    explained = explain_pair(
        article("a", TITLE, PARAGRAPHS, canonical_url=url),
        article("b", "Teaser", PARAGRAPHS[:1], canonical_url=url),
        POLICY,
    )
    assert explained.folds and explained.rule == "same URL"


def test_two_short_texts_name_the_measure_they_fold_by() -> None:
    # Two teasers (too short for shingles) are scored on headline and text words together:
    # the reason must give that figure under that name, not call it the headlines' share.
    lead = "Mexico sent 29 cartel figures to the United States on Thursday, among them Rafael Caro Quintero."
    a = article("a", "Mexico extradites cartel leaders to United States", [lead])
    b = article("b", "Cartel leaders sent to United States by Mexico", [lead])
    explained = explain_pair(a, b, POLICY)
    scores = dict(explained.scores)
    assert explained.folds and explained.rule == "title", explained
    together = scores["headline+text jaccard"]
    assert together != scores["headline words jaccard"]  # else the test could not tell them apart
    assert f"{float(together):.0%}" in explained.why and "headlines share" not in explained.why, explained.why
    assert scores["  which is"].endswith("headline+text jaccard above")


# --- through the CLI, on a stored database: the related-coverage part -----------------------


def test_explain_through_the_cli_tells_related_coverage(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    # A report of the event in its own words (no copy: it shares no text), and another event.
    outlets = {
        "wire": (TITLE, PARAGRAPHS),
        "brief": ("Drug lords flown to America", [NEW_LEAD]),
        "oil": ("Brent crude closes at $71.42", brent("71.42", "Monday")),
        "weather": (LONG_HEADLINE, ["Fog stays over the harbour until noon; the ferry runs late all weekend."]),
    }
    sources = []
    for name, (title, paragraphs) in outlets.items():
        feed_server.add(f"/{name}.rss", rss(name, title, "".join(f"<p>{p}</p>" for p in paragraphs)))
        sources.append({"name": name, "url": feed_server.url(f"/{name}.rss"), "title": name.title()})
    config = str(write_config(sources))
    assert main(["--config", config, "poll"]) == 0
    url = "https://{}.example/cartel-story".format
    capsys.readouterr()
    assert main(["--config", config, "dupes"]) == 0
    # The one stored second (either, by the backend's order) is listed with the score it joined by.
    [stored_score] = re.findall(r"(\d\.\d\d) TF-IDF cosine", capsys.readouterr().out)

    assert main(["--config", config, "dupes", "--explain", url("brief"), url("wire")]) == 0
    printed = capsys.readouterr().out
    assert "not folded: two stories" in printed  # not a copy ...
    assert "related coverage: grouped, listed as reports of one event (rule: cosine)" in printed, printed
    cosine = next(line for line in printed.splitlines() if line.strip().startswith("TF-IDF cosine"))
    assert cosine.split()[2] == stored_score, (cosine, stored_score)  # the score the store decided by
    assert "threshold                  0.22" in printed and "cartel" in printed  # a shared word

    assert main(["--config", config, "dupes", "--explain", url("oil"), url("wire")]) == 0
    printed = capsys.readouterr().out
    assert "related coverage: not grouped (rule: " in printed, printed

    # A long headline is cut at a word, and says it was cut.
    assert main(["--config", config, "dupes", "--explain", url("weather"), url("wire")]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("A: weather")]
    assert line.endswith("A storm of a week on the coast, and the ferries that kept…"), line

    # The same entry twice is said to be that, not two stories of one source.
    assert main(["--config", config, "dupes", "--explain", url("wire"), url("wire")]) == 0
    printed = capsys.readouterr().out
    assert "the same entry" in printed and "not folded" not in printed, printed


# --- the related-coverage part as a pure function: two stored reports in, the step out ------

RELATED = RelatedPolicy(0.22, 0.50, timedelta(days=7))


def report(i: str, title: str, text: str, group: str, story: str = "", days: int = 0) -> Report:
    lead = lead_of(title, text)
    weights = vector(lead, {}, 0)  # a young store: every word weighs alike
    when = WHEN + timedelta(days=days)
    return Report(i, title, group, WHEN, story or i, when, lead.headline_only, weights)


def keys_of(*words: str) -> list[int]:
    return [term_key(w) for w in words]


WIRE = report("a", TITLE, " ".join(PARAGRAPHS), "a")
BRIEF = report("b", "Drug lords flown to America", NEW_LEAD, "a")


COPY = report("c", TITLE, " ".join(PARAGRAPHS), "a", story="a")
LATE = report("b", "Drug lords flown to America", NEW_LEAD, "b", days=8)
GARDENING = report("b", "Cartel leader's trial set", "A weekly column on gardening " * 5, "b")
SHARED = keys_of("cartel", "drug")
HEADLINED = report("b", "Cartel lords flown to America", NEW_LEAD, "a")  # "cartel": its headline's weightiest key


@pytest.mark.parametrize(
    ("later", "lookup", "rule", "grouped"),
    [
        (BRIEF, SHARED, "cosine", True),
        (BRIEF, keys_of("cartel"), "index", True),  # grouped, but through another report
        (HEADLINED, keys_of("cartel"), "cosine", True),  # one key, its headline's weightiest word: offered
        (COPY, [], "one story", True),
        (LATE, SHARED, "window", False),
        (GARDENING, SHARED, "threshold", False),
    ],
    ids=["matched", "not offered", "one headline key", "a copy", "outside the window", "below the threshold"],
)
def test_related_coverage_says_which_step_decided(later: Report, lookup: list[int], rule: str, grouped: bool) -> None:
    explained = explain_related(WIRE, later, lookup, keys_of("cartel", "drug", "extrad"), RELATED)
    assert (explained.rule, explained.grouped) == (rule, grouped), explained
    verdict = "grouped, listed as reports of one event" if grouped else "not grouped"
    if rule == "one story":  # copies are one item: not each other's related coverage
        verdict = "not applicable, one story"
    else:
        verdict += f" (rule: {rule})"
    assert explained.lines()[0] == f"related coverage: {verdict}"
    assert dict(explained.scores)["threshold"] == "0.22"


def test_the_lookup_keys_weights_are_said_as_they_were_counted() -> None:
    """A headline alone: each of its keys counts 2; with a lead, only the headline's weightiest."""
    indexed = keys_of("cartel", "drug", "extrad")
    alone = report("b", "Cartel lords flown to America", "", "a")
    assert alone.headline_only
    said = dict(explain_related(WIRE, alone, keys_of("cartel"), indexed, RELATED).scores)["lookup keys of B shared"]
    assert said == "1 (cartel), weighing 2 (each key of B's headline alone 2), 2 needed"
    said = dict(explain_related(WIRE, BRIEF, SHARED, indexed, RELATED).scores)["lookup keys of B shared"]
    assert said.endswith("(B's headline's weightiest word 2 each, another word 1), 2 needed"), said


def test_a_template_series_is_not_one_event() -> None:
    monday = report("a", "Brent crude closes at $71.42", brent("71.42", "Monday")[0], "a")
    tuesday = report("b", "Brent crude closes at $71.45", brent("71.45", "Tuesday")[0], "b")
    explained = explain_related(monday, tuesday, keys_of("brent", "crude"), keys_of("brent", "crude"), RELATED)
    assert (explained.rule, explained.grouped) == ("templated", False), explained


def test_a_report_that_joined_no_group_is_not_said_to_have_joined_a_better_one() -> None:
    # Stored alone (its own group) although today's index and cosine would group it: the
    # explanation must not claim it joined another group.
    alone = report("b", "Drug lords flown to America", NEW_LEAD, "b")
    explained = explain_related(WIRE, alone, SHARED, keys_of("cartel", "drug", "extrad"), RELATED)
    assert (explained.rule, explained.grouped) == ("cosine", False), explained
    assert "better match" not in explained.why and "joined no group" in explained.why, explained.why
    elsewhere = report("b", "Drug lords flown to America", NEW_LEAD, "z")
    assert "better match" in explain_related(WIRE, elsewhere, SHARED, keys_of("cartel", "drug"), RELATED).why

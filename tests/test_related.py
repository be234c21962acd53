"""Related coverage's pure decisions: leads and pairs in, verdicts out (no I/O)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from newsriver.stories.related import (
    Joined,
    Lead,
    RelatedPolicy,
    Report,
    adopted,
    cosine,
    join,
    key_weights,
    keys,
    lead_of,
    matching,
    templated,
    term_key,
    vector,
    weighs_enough,
    without_tags,
    words,
)
from newsriver.stories.thresholds import DEFAULT_HEADLINE_THRESHOLD, DEFAULT_THRESHOLD

POLICY = RelatedPolicy(DEFAULT_THRESHOLD, DEFAULT_HEADLINE_THRESHOLD, timedelta(days=7))
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ASSANGE_A = (
    "Sweden drops Julian Assange rape investigation",
    "Prosecutors in Sweden have dropped an investigation into a rape allegation made against Wikileaks co-founder "
    "Julian Assange in 2010. Assange, who denies the accusation, has avoided extradition to Sweden for seven years "
    "after seeking refuge at the Ecuadorean embassy in London in 2012.",
)
ASSANGE_B = (
    "Swedish prosecutors end Assange inquiry",
    "Sweden has dropped its investigation into a 2010 rape allegation against WikiLeaks co-founder Julian Assange "
    "after a review of the evidence. The deputy chief prosecutor said the evidence had weakened considerably.",
)
HOME_DEPOT = (
    "Home Depot cuts its sales forecast",
    "Shares of construction goods giant Home Depot are dropping in premarket trading after the company cut "
    "full-year sales growth guidance. Its lowered forecast is not a problem for the overall market.",
)
BACKGROUND = [
    ("Police investigate a break-in", "Officers were called to a house in the evening after neighbours heard glass."),
    ("Markets open higher", "Shares rose in early trading as investors weighed the latest figures from the company."),
    ("Court hears appeal", "Lawyers for the company told the court the investigation had been flawed from the start."),
]


def frequencies(*texts: tuple[str, str]) -> tuple[Counter[str], int]:
    leads = [lead_of(t, x) for t, x in (*texts, *BACKGROUND)]
    return Counter(w for lead in leads for w in lead.terms), len(leads)


def report(entry_id: str, text: tuple[str, str], df: Counter[str], n: int, **changes: object) -> Report:
    lead = lead_of(*text)
    values: dict[str, object] = {
        "id": entry_id,
        "title": text[0],
        "group": entry_id,
        "group_published": T0,
        "story": entry_id,
        "published": T0,
        "headline_only": lead.headline_only,
        "vector": vector(lead, df, n),
    }
    values |= changes
    return Report(**values)  # type: ignore[arg-type]


def verdict(text: tuple[str, str], reports: list[Report], df: Counter[str], n: int, **kw: object) -> Joined | None:
    published = kw.pop("published", T0 + timedelta(hours=2))
    entry = report("new", text, df, n, published=published, group_published=published, **kw)
    return join(entry, reports, POLICY)


def test_words_are_lowercased_stemmed_and_stopwords_go() -> None:
    # "U.S." is "us" (a stopword, as the pronoun): a word too common to say which event.
    assert words("The U.S. extradites Mexico's prisoners") == ["extrad", "mexico", "prison"]
    assert words("Prisoner extradited") == ["prison", "extrad"]


def test_a_headline_alone_is_headline_only_and_a_repeated_headline_is_no_lead() -> None:
    assert lead_of("Sweden drops Assange case", "").headline_only
    assert lead_of("Sweden drops Assange case", "Sweden drops Assange case. Read more.").headline_only
    assert not lead_of(*ASSANGE_A).headline_only


def test_headline_words_weigh_more_than_the_leads() -> None:
    lead = lead_of("Assange", "Sweden")
    assert lead.terms["assang"] > lead.terms["sweden"]


def test_two_reports_of_one_event_join_and_another_event_stays_apart() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B, HOME_DEPOT)
    stored = [report("a", ASSANGE_A, df, n)]
    joined = verdict(ASSANGE_B, stored, df, n)
    assert joined is not None and joined.group == "a" and joined.report == "a"
    assert verdict(HOME_DEPOT, stored, df, n) is None


def test_the_best_match_wins_and_its_group_is_joined_not_merged() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B, HOME_DEPOT)
    stored = [
        report("h", HOME_DEPOT, df, n, group="g-home"),
        report("a", ASSANGE_A, df, n, group="g-assange"),
    ]
    joined = verdict(ASSANGE_B, stored, df, n)
    assert joined is not None and joined.group == "g-assange"


def test_a_copy_of_the_same_story_is_not_related_coverage_of_itself() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B)
    stored = [report("a", ASSANGE_A, df, n)]
    assert verdict(ASSANGE_A, stored, df, n, story="a") is None
    assert verdict(ASSANGE_A, stored, df, n, story="b") is not None


def test_an_outlets_own_follow_up_joins_too() -> None:
    # Sources do not enter the decision at all: only stories, texts and times do.
    df, n = frequencies(ASSANGE_A, ASSANGE_B)
    follow_up = (
        "Assange: what Sweden's decision means",
        "Sweden's decision to drop the rape investigation into Julian Assange leaves the Wikileaks co-founder "
        "facing only the United States extradition request.",
    )
    assert verdict(follow_up, [report("a", ASSANGE_A, df, n)], df, n) is not None


def test_nothing_joins_across_more_than_a_window() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B)
    stored = [report("a", ASSANGE_A, df, n)]
    assert verdict(ASSANGE_B, stored, df, n, published=T0 + timedelta(days=8)) is None
    assert verdict(ASSANGE_B, stored, df, n, published=T0 - timedelta(days=8)) is None
    # A member within the window of a group that began longer ago: the group does not drift on.
    late = [report("b", ASSANGE_A, df, n, group="a", published=T0 + timedelta(days=6))]
    assert verdict(ASSANGE_B, late, df, n, published=T0 + timedelta(days=8)) is None
    assert verdict(ASSANGE_B, late, df, n, published=T0 + timedelta(days=6, hours=1)) is not None


def test_headline_only_pairs_need_the_stricter_threshold() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B)
    a = vector(lead_of("Sweden drops Assange rape case, prosecutors say", ""), df, n)
    b = vector(lead_of("Assange: Sweden ends investigation", ""), df, n)
    score = cosine(a, b)
    assert DEFAULT_THRESHOLD <= score < DEFAULT_HEADLINE_THRESHOLD
    stored = [report("a", ("Sweden drops Assange rape case, prosecutors say", ""), df, n)]
    assert verdict(("Assange: Sweden ends investigation", ""), stored, df, n) is None


def test_ties_go_to_the_earlier_report_then_the_smaller_id() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B)
    later = report("a1", ASSANGE_A, df, n, group="g1", published=T0 + timedelta(hours=1))
    earlier = report("a2", ASSANGE_A, df, n, group="g2")
    same_time = report("a0", ASSANGE_A, df, n, group="g0")
    joined = verdict(ASSANGE_B, [later, earlier], df, n)
    assert joined is not None and joined.group == "g2"
    joined = verdict(ASSANGE_B, [later, earlier, same_time], df, n)
    assert joined is not None and joined.group == "g0"


def test_keys_are_the_weightiest_words_and_skip_common_ones() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B, HOME_DEPOT)
    weights = vector(lead_of(*ASSANGE_A), df, n)
    chosen = keys(weights, df, max_df=50)
    assert len(chosen) == 8 and term_key("assang") in chosen
    assert term_key("assang") not in keys(weights, df | {"assang": 51}, max_df=50)
    # A lookup uses only words another entry holds: "assang" is held by both Assange reports.
    looked_up = keys(weights, df, max_df=50, held_by=1)
    assert term_key("assang") in looked_up
    assert all(df[w] > 1 for w in weights if term_key(w) in looked_up)


def test_one_shared_key_offers_a_report_when_it_is_the_headlines_weightiest_word() -> None:
    # The real case: the Smithsonian's plague report and the New York Post's share one key, the
    # event's name in both headlines; their leads tell it in other words.
    smithsonian = lead_of("Three cases of plague diagnosed in China", "As Emily Feng reports for NPR, " * 3)
    looked = ["plague", "diagno", "emily", "china", "feng"]  # weightiest first
    weights = key_weights(looked, smithsonian.headline, smithsonian.headline_only)
    assert weighs_enough(["plague"], weights)
    assert not weighs_enough(["emily"], weights)  # of its lead only: it needs another
    assert not weighs_enough(["diagno"], weights)  # of its headline, but a commoner word than "plague"
    assert weighs_enough(["emily", "feng"], weights) and weighs_enough(["diagno", "feng"], weights)
    alone = lead_of("Three cases of plague diagnosed in China", "")
    assert alone.headline_only and weighs_enough(["china"], key_weights(looked, alone.headline, alone.headline_only))


def test_term_keys_are_stable_and_fit_a_signed_64_bit_column() -> None:
    assert term_key("assang") == term_key("assang") != term_key("sweden")
    assert 0 <= term_key("assang") < 2**63


def test_a_lead_is_at_most_sixty_words() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    assert sum(lead_of("", text).terms.values()) == 60
    assert isinstance(lead_of("", text), Lead)


def test_a_templated_series_is_not_one_event() -> None:
    def brent(price: str, day: str) -> tuple[str, str]:
        return (
            f"Brent crude closes at ${price}",
            f"Brent crude futures settled at ${price} a barrel on {day}, as traders weighed OPEC+ output plans "
            "against signs of slowing demand in Asia.",
        )

    df, n = frequencies(brent("71.42", "Thursday"), brent("71.45", "Friday"))
    stored = [report("a", brent("71.42", "Thursday"), df, n)]
    assert verdict(brent("71.45", "Friday"), stored, df, n) is None
    follow_up = ("Brent crude slides as OPEC+ weighs output", brent("71.42", "Thursday")[1])
    assert verdict(follow_up, stored, df, n) is not None
    assert templated("Daily briefing: Monday", "Daily briefing: Tuesday")
    assert not templated("Quake kills 25", "Death toll rises to 40")
    assert not templated("Brent crude closes at $71.42", "Brent crude closes at $71.42")


def test_a_report_alone_in_its_group_is_adopted_by_a_later_match() -> None:
    df, n = frequencies(ASSANGE_A, ASSANGE_B, HOME_DEPOT)
    placed = Joined("g", T0, "x", None)
    alone = report("a", ASSANGE_A, df, n, group="a")
    elsewhere = report("h", HOME_DEPOT, df, n, group="h")
    already = report("b", ASSANGE_A, df, n, group="g")
    entry = report("new", ASSANGE_B, df, n, published=T0 + timedelta(hours=1), group="g")
    [moved] = adopted(entry, placed, matching(entry, [alone, elsewhere, already], POLICY), POLICY)
    assert (moved.group, moved.report, moved.group_published) == ("a", "a", T0)
    assert moved.score is not None and moved.score >= DEFAULT_THRESHOLD
    # Not across more than a window from the group's beginning.
    late = report("a", ASSANGE_A, df, n, group="a", published=T0 + timedelta(days=8))
    assert adopted(entry, placed, matching(entry, [late], POLICY), POLICY) == []


# German teasers as a store of two German feeds holds them (written for the test, after
# heise's and Golem's of October 2018): two product tests, two reports of one plant
# closing, and others of the same days. Each is a headline and a sentence or two.
MOTOROLA = (
    "Motorola One: Android-One-Smartphone für 299 Euro im Test",
    "Das Motorola One ist ein Smartphone mit schickem Design und Android One als Betriebssystem. Ob und für wen "
    "sich der Kauf lohnt, haben wir getestet.",
)
XBOX = (
    "Xbox One X im 4K-Test: Spaßzentrale für UHD-Fernseher",
    "Die aktuelle Xbox One X bewirbt Microsoft als idealen Zuspieler für UHD-Fernseher. Wir haben ihre "
    "4K-Fähigkeiten bei Filmen und Spielen getestet.",
)
FUJITSU_A = (
    "Fujitsu schließt Werk in Augsburg",
    "Der japanische Konzern gibt seine Fertigung in Augsburg auf. Betroffen sind rund 1500 Beschäftigte.",
)
FUJITSU_B = (
    "Augsburg: Fujitsu macht alles dicht",
    "Fujitsu will sein Werk in Augsburg bis 2020 schließen. Für die Mitarbeiter ist das ein Schock, die "
    "Gewerkschaft kritisiert die Entscheidung.",
)
GERMAN_BACKGROUND = [
    ("Seehofer fordert Änderung der Vergaberegeln", "Der Innenminister will die Auktion der 5G-Frequenzen im "
     "Frühjahr verschieben, bis die Regeln für den Ausbau auf dem Land geändert sind."),
    ("Intel legt Rekordquartal vor", "Der Chiphersteller hat im dritten Quartal mehr als 19 Milliarden US-Dollar "
     "umgesetzt und ist mit den Aussichten für das Jahr zufrieden."),
    ("Grüne wollen Netzbetreiber zum Ausbau zwingen", "Mit einem Gesetzentwurf will die Partei einen Anspruch auf "
     "schnelles Internet für alle Haushalte einführen, den die Betreiber bezahlen sollen."),
    ("Lenovo: Bios-Option macht Thinkpads unbrauchbar", "Wer in einigen Modellen eine Einstellung im Bios ändert, "
     "kann das Notebook nicht mehr starten. Lenovo arbeitet an einer Lösung für die Kunden."),
]  # fmt: skip


def german_frequencies(*texts: tuple[str, str]) -> tuple[Counter[str], int]:
    leads = [lead_of(t, x) for t, x in (*texts, *GERMAN_BACKGROUND)]
    return Counter(w for lead in leads for w in lead.terms), len(leads)


def test_stopwords_are_told_before_the_plurals_s_comes_off() -> None:
    # "this" and "does" were "thi" and "doe", which no stopword list holds: words of every text.
    assert words("This does it") == []
    assert words("Others say") == []  # and after it, as before: "others" is "other"'s plural


def test_german_function_words_and_weekdays_say_nothing() -> None:
    assert words("Motorola One für 299 Euro im Test") == ["motoro", "299", "euro", "test"]
    # A weekday says when, not what: two reports of one event often name different days.
    assert words("Prosecutors said on Thursday's hearing") == ["prosec", "hearin"]
    assert words("Am Donnerstag im Bundestag") == ["bundes"]
    # German words that are English ones which say something stay.
    assert words("war man") == ["war", "man"]
    assert words("Seine floods as MIT student dies in hat factory den") == [
        "seine", "flood", "mit", "studen", "die", "hat", "factor", "den",
    ]  # fmt: skip


def test_two_german_product_tests_are_not_one_event_and_two_reports_of_a_closing_are() -> None:
    # In a young store of short teasers "für" and "im" are as rare as a product's name: the
    # two tests matched on them (and "One") at 0.27 in a store of the two feeds.
    df, n = german_frequencies(MOTOROLA, XBOX, FUJITSU_A, FUJITSU_B)
    assert verdict(XBOX, [report("motorola", MOTOROLA, df, n)], df, n) is None
    joined = verdict(FUJITSU_B, [report("fujitsu", FUJITSU_A, df, n)], df, n)
    assert joined is not None and joined.group == "fujitsu"


XBOX_GAME_PASS = (
    "Microsoft: PC-Spieleangebot des Xbox Game Pass wird erweitert",
    "Der Xbox Game Pass soll künftig um mehr Angebote für Windows-PC erweitert werden, sagt Microsoft-Chef Satya "
    "Nadella. Derzeit gibt es für 10 Euro nur wenige plattformübergreifend verfügbare Spiele. (Xbox One, Microsoft)",
)


def test_a_teasers_closing_topic_tags_are_no_words_of_its_lead() -> None:
    assert without_tags("Vorbestellungen ab 2020. (Elektromobilität, Elektroauto)") == "Vorbestellungen ab 2020."
    assert without_tags("Ein Test von Tobias Költzsch. (iPhone, Smartphone)") == "Ein Test von Tobias Költzsch."
    # Only a parenthesis after the last sentence, closing the text.
    assert without_tags("Sales rose (a record) in May.") == "Sales rose (a record) in May."
    assert without_tags("Sales rose in May (a record)") == "Sales rose in May (a record)"
    assert lead_of(*XBOX_GAME_PASS).terms == lead_of(XBOX_GAME_PASS[0], XBOX_GAME_PASS[1][:-22]).terms
    # Only a whole text's: the first 60 words of a longer one are its lead, whatever they end with.
    long = " ".join(["Wort"] * 56) + " Ende. (Xbox One, Microsoft) Weiter im Text."
    assert "micros" in lead_of("", long).terms


def test_a_game_service_and_a_console_test_sharing_only_their_topic_tags_are_not_one_event() -> None:
    # Golem's teaser closes with its topics, "(Xbox One, Microsoft)": with them it shared
    # "One" and "Microsoft" with a test of the Xbox One X, and matched it at the threshold.
    df, n = german_frequencies(XBOX_GAME_PASS, XBOX, MOTOROLA, FUJITSU_A, FUJITSU_B)
    assert verdict(XBOX, [report("pass", XBOX_GAME_PASS, df, n)], df, n) is None

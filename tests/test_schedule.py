"""Every scheduling rule, as data in and a decision out: no clock, no network, no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from newsriver.ingest.schedule import (
    Policy,
    Response,
    base_interval,
    cache_lifetime,
    feed_interval,
    is_due,
    left_alone,
    plan_next_poll,
    publication_times,
    publishing_interval,
    retry_after,
    rhythm_of,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(interval=timedelta(minutes=30), adaptive=False)
OK = Response("ok", 200)
MIDDLE = 0.5  # the centre of the jitter band: no jitter


def wait(decision_next: datetime | None) -> timedelta:
    assert decision_next is not None
    return decision_next - NOW


def test_success_polls_after_the_interval_within_the_jitter_band() -> None:
    assert wait(plan_next_poll(NOW, POLICY, 0, [], OK, MIDDLE).next_poll) == timedelta(minutes=30)
    assert wait(plan_next_poll(NOW, POLICY, 0, [], OK, 0.0).next_poll) == timedelta(minutes=27)
    assert wait(plan_next_poll(NOW, POLICY, 0, [], OK, 0.999999).next_poll) > timedelta(minutes=32, seconds=59)


def test_jitter_never_polls_sooner_than_min_interval_or_a_shorter_configured_interval() -> None:
    five = Policy(interval=timedelta(minutes=5), adaptive=False)
    assert wait(plan_next_poll(NOW, five, 0, [], OK, 0.0).next_poll) == timedelta(minutes=5)
    one = Policy(interval=timedelta(minutes=1), adaptive=False)
    assert wait(plan_next_poll(NOW, one, 0, [], OK, 0.0).next_poll) == timedelta(minutes=1)


def test_errors_back_off_exponentially_up_to_the_cap_and_never_stop() -> None:
    failed = Response("error", 500)
    decisions = [plan_next_poll(NOW, POLICY, errors, [], failed, MIDDLE) for errors in range(8)]
    assert [d.errors for d in decisions] == list(range(1, 9))
    assert {d.state for d in decisions} == {"error"}
    assert [wait(d.next_poll) for d in decisions[:4]] == [timedelta(minutes=m) for m in (60, 120, 240, 480)]
    assert wait(decisions[-1].next_poll) == timedelta(hours=24)
    assert wait(plan_next_poll(NOW, POLICY, 10_000, [], failed, MIDDLE).next_poll) == timedelta(hours=24)
    # Jitter spreads failing sources too, but never past the cap.
    assert wait(plan_next_poll(NOW, POLICY, 10_000, [], failed, 0.999).next_poll) == timedelta(hours=24)
    assert wait(plan_next_poll(NOW, POLICY, 10_000, [], failed, 0.0).next_poll) == timedelta(hours=24) * 0.9


def test_the_first_success_ends_the_backoff() -> None:
    decision = plan_next_poll(NOW, POLICY, 6, [], Response("not_modified", 304), MIDDLE)
    assert decision.errors == 0 and decision.state == "not_modified"
    assert wait(decision.next_poll) == timedelta(minutes=30)


def test_an_interval_longer_than_the_cap_is_kept() -> None:
    weekly = Policy(interval=timedelta(days=7), adaptive=False)
    assert wait(plan_next_poll(NOW, weekly, 3, [], Response("error", 500), MIDDLE).next_poll) == timedelta(days=7)


# --- adaptive interval ---------------------------------------------------------------------

ADAPTIVE = Policy(interval=timedelta(minutes=30))


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (hours_ago(*range(1, 13)), timedelta(hours=1)),  # hourly for half a day
        (hours_ago(*[144 + i / 10 for i in range(10)]), timedelta(hours=14.49)),  # a burst six days ago
        ([NOW - timedelta(seconds=36 * i) for i in range(1, 101)], timedelta(minutes=5)),  # wire: clamped up
        (hours_ago(200, 300), timedelta(hours=24)),  # dormant for over a week: clamped down
        ([], timedelta(minutes=30)),  # no evidence: the configured interval
    ],
    ids=["hourly", "old-burst", "fast", "dormant", "empty"],
)
def test_adaptive_interval_follows_the_publishing_rate_within_bounds(
    published: list[datetime], expected: timedelta
) -> None:
    got = wait(plan_next_poll(NOW, ADAPTIVE, 0, published, OK, MIDDLE).next_poll)
    assert abs(got - expected) < timedelta(minutes=1)


def test_adaptive_off_keeps_the_configured_interval_whatever_the_rate() -> None:
    assert wait(plan_next_poll(NOW, POLICY, 0, hours_ago(200, 300), OK, MIDDLE).next_poll) == timedelta(minutes=30)


def test_publishing_interval_ignores_future_dates_and_counts_up_to_now() -> None:
    assert publishing_interval([NOW + timedelta(days=400)], NOW) == timedelta(days=7)
    assert publishing_interval(hours_ago(2, 4), NOW) == timedelta(hours=2)
    assert publishing_interval([], NOW) is None


def test_adaptive_backoff_starts_from_the_adaptive_interval() -> None:
    hourly = hours_ago(*range(1, 13))
    decision = plan_next_poll(NOW, ADAPTIVE, 0, hourly, Response("error", None), MIDDLE)
    assert abs(wait(decision.next_poll) - timedelta(hours=2)) < timedelta(minutes=1)


# --- never earlier than the feed asks ------------------------------------------------------


def test_cache_control_max_age_postpones_the_next_poll() -> None:
    asked = Response("ok", 200, {"cache-control": "public, max-age=7200"})
    assert wait(plan_next_poll(NOW, POLICY, 0, [], asked, MIDDLE).next_poll) == timedelta(hours=2)
    short = Response("ok", 200, {"cache-control": "max-age=60"})
    assert wait(plan_next_poll(NOW, POLICY, 0, [], short, MIDDLE).next_poll) == timedelta(minutes=30)


def test_a_feed_asking_for_longer_than_max_interval_gets_max_interval() -> None:
    far = Response("ok", 200, {"expires": format_datetime(NOW + timedelta(days=900), usegmt=True)})
    assert wait(plan_next_poll(NOW, POLICY, 0, [], far, MIDDLE).next_poll) == timedelta(hours=24)


def test_cache_headers_do_not_apply_to_errors() -> None:
    failed = Response("error", 500, {"cache-control": "max-age=86400"})
    assert wait(plan_next_poll(NOW, POLICY, 0, [], failed, MIDDLE).next_poll) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=600"}, timedelta(minutes=10)),
        ({"cache-control": "max-age=600", "age": "200"}, timedelta(minutes=10) - timedelta(seconds=200)),
        ({"cache-control": "no-cache"}, timedelta(0)),
        # max-age wins over Expires.
        ({"cache-control": "max-age=60", "expires": "Thu, 01 Jan 2026 18:00:00 GMT"}, timedelta(minutes=1)),
        # Expires is measured against the server's Date, so a skewed server clock cancels out.
        (
            {"expires": "Thu, 01 Jan 2026 09:00:00 GMT", "date": "Thu, 01 Jan 2026 08:00:00 GMT"},
            timedelta(hours=1),
        ),
        ({"expires": "Thu, 01 Jan 2026 15:00:00 GMT"}, timedelta(hours=3)),
        ({"expires": "0"}, timedelta(0)),
        ({"expires": "Wed, 31 Dec 2025 00:00:00 GMT"}, timedelta(0)),
        ({}, timedelta(0)),
    ],
)
def test_cache_lifetime(headers: dict[str, str], expected: timedelta) -> None:
    assert cache_lifetime(headers, NOW) == expected


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "expected"),
    [
        (60, "", "", timedelta(hours=1)),
        (None, "hourly", "2", timedelta(minutes=30)),
        (None, "weekly", "", timedelta(weeks=1)),
        (None, "", "4", timedelta(hours=6)),  # the period defaults to daily
        (120, "hourly", "1", timedelta(hours=2)),  # the longer of the two
        (None, " Daily ", "1", timedelta(days=1)),
        (None, "fortnightly", "1", timedelta(0)),
        (30, "hourly", "0", timedelta(minutes=30)),
        (0, "", "", timedelta(0)),
        (None, "", "", timedelta(0)),
    ],
)
def test_feed_interval_from_ttl_and_syndication_module(
    ttl: int | None, period: str, frequency: str, expected: timedelta
) -> None:
    assert feed_interval(ttl, period, frequency) == expected


def test_feed_interval_postpones_the_next_poll() -> None:
    asked = Response("not_modified", 304, feed_interval=timedelta(hours=3))
    assert wait(plan_next_poll(NOW, POLICY, 0, [], asked, MIDDLE).next_poll) == timedelta(hours=3)


# --- Retry-After, 429/503, 410 -------------------------------------------------------------


def test_429_with_retry_after_seconds_pushes_the_host_back() -> None:
    decision = plan_next_poll(NOW, POLICY, 0, [], Response("error", 429, {"retry-after": "7200"}), MIDDLE)
    assert decision.state == "backoff" and decision.errors == 1
    assert decision.host_wait_until == NOW + timedelta(hours=2)
    assert decision.next_poll == NOW + timedelta(hours=2)


def test_503_with_retry_after_date_pushes_the_host_back() -> None:
    until = NOW + timedelta(hours=3)
    decision = plan_next_poll(
        NOW, POLICY, 0, [], Response("error", 503, {"retry-after": format_datetime(until, True)}), 0.5
    )
    assert decision.state == "backoff"
    assert decision.host_wait_until == until == decision.next_poll


def test_a_short_retry_after_does_not_shorten_the_backoff() -> None:
    decision = plan_next_poll(NOW, POLICY, 2, [], Response("error", 429, {"retry-after": "60"}), MIDDLE)
    assert decision.host_wait_until == NOW + timedelta(minutes=1)
    assert wait(decision.next_poll) == timedelta(hours=4)


def test_retry_after_is_capped_at_max_interval() -> None:
    decision = plan_next_poll(NOW, POLICY, 0, [], Response("error", 503, {"retry-after": str(365 * 86400)}), MIDDLE)
    assert decision.host_wait_until == NOW + timedelta(hours=24) == decision.next_poll


def test_retry_after_counts_only_on_429_and_503() -> None:
    decision = plan_next_poll(NOW, POLICY, 0, [], Response("error", 500, {"retry-after": "7200"}), MIDDLE)
    assert decision.state == "error" and decision.host_wait_until is None
    assert wait(decision.next_poll) == timedelta(hours=1)
    bare = plan_next_poll(NOW, POLICY, 0, [], Response("error", 429), MIDDLE)
    assert bare.state == "backoff" and bare.host_wait_until is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(minutes=2)),
        ("Thu, 01 Jan 2026 13:00:00 GMT", NOW + timedelta(hours=1)),
        ("Thursday, 01-Jan-26 13:00:00 GMT", NOW + timedelta(hours=1)),  # RFC 850 form
        ("Thu, 01 Jan 2026 11:00:00 GMT", None),  # already past
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_parsing(value: str, expected: datetime | None) -> None:
    assert retry_after({"retry-after": value}, NOW) == expected


def test_410_marks_the_source_gone_for_good() -> None:
    decision = plan_next_poll(NOW, POLICY, 0, [], Response("error", 410), MIDDLE)
    assert decision.state == "gone" and decision.next_poll is None


def test_left_alone_when_gone_or_inside_retry_after() -> None:
    assert "gone" in left_alone(True, None, NOW)
    assert "2026-01-01 13:00:00" in left_alone(False, NOW + timedelta(hours=1), NOW)
    assert left_alone(False, NOW - timedelta(seconds=1), NOW) == ""
    assert left_alone(False, None, NOW) == ""


def test_is_due() -> None:
    assert is_due(None, NOW)
    assert is_due(NOW, NOW)
    assert not is_due(NOW + timedelta(seconds=1), NOW)


def test_a_documents_rhythm_decides_as_all_its_publication_times_do() -> None:
    """The worker hands on only ``rhythm_of`` a document's times: with the source's stored
    rhythm beside it (which the document's times override, key by key), the next poll is the
    same as with every time the document had, whenever the window holds up to the limit.
    The one exception is left out here: a stored entry whose date the document moves to
    before the window keeps its stored date for that one decision."""
    adaptive = Policy(interval=timedelta(hours=1), min_interval=timedelta(minutes=1))
    rng = random.Random(7)
    later = NOW + timedelta(seconds=30)  # the store decides a little after the worker read the clock
    since = NOW - timedelta(days=8)
    for case in range(400):
        spans = rng.choice([timedelta(days=3), timedelta(days=30), timedelta(days=400)])
        published = {f"k{i}": NOW - spans * rng.random() + timedelta(hours=rng.randint(-2, 0)) for i in range(90)}
        if case % 4 == 0:  # all older than the window: only their being there counts
            published = {key: when - timedelta(days=30) for key, when in published.items()}
        stored = {f"k{i}": NOW - timedelta(days=rng.random() * 9) for i in rng.sample(range(150), rng.randint(0, 20))}
        stored = {k: t for k, t in stored.items() if k not in published or published[k] >= since or t < since}
        kept = rhythm_of(published.items(), NOW)
        assert len(kept) <= len(published)
        whole = plan_next_poll(later, adaptive, 0, list((stored | published).values()), OK, MIDDLE)
        assert plan_next_poll(later, adaptive, 0, list((stored | kept).values()), OK, MIDDLE) == whole, case


def test_a_documents_rhythm_is_bounded() -> None:
    times = ((f"k{i}", NOW - timedelta(minutes=i)) for i in range(100_000))
    kept = rhythm_of(times, NOW, limit=200)
    assert kept == {f"k{i}": NOW - timedelta(minutes=i) for i in range(200)}  # the newest
    old = ((f"k{i}", NOW - timedelta(days=30 + i)) for i in range(100_000))
    assert rhythm_of(old, NOW) == {"k0": NOW - timedelta(days=30)}  # the newest alone
    assert rhythm_of([], NOW) == {}


def test_undated_entries_first_seen_together_count_as_one_publication() -> None:
    # Undated entries are dated when first seen: a first poll's 60 (published == first seen)
    # say the source published since, once; dated entries all count, whatever their times.
    backlog = [("heise", f"u{i}", NOW, NOW) for i in range(60)]
    later = NOW + timedelta(days=4)
    new = [("heise", "n1", later, later), ("heise", "n2", later, later)]
    other = [("golem", "g1", NOW, NOW)]  # another source's first poll in the same pass: its own
    hour_ago = NOW - timedelta(hours=1)
    dated = [("wire", "d1", hour_ago, NOW), ("wire", "d2", hour_ago, NOW)]
    known = [("wire", "k1", NOW - timedelta(days=1), None)]  # read again from the document
    times = {(s, k): t for s, k, t in publication_times([*backlog, *new, *other, *dated, *known])}
    assert times == {
        ("heise", "u0"): NOW,
        ("heise", "n1"): later,
        ("golem", "g1"): NOW,
        ("wire", "d1"): hour_ago,
        ("wire", "d2"): hour_ago,
        ("wire", "k1"): NOW - timedelta(days=1),
    }
    policy = Policy(interval=timedelta(minutes=30), max_interval=timedelta(days=7))
    at = NOW + timedelta(days=2)
    assert base_interval(policy, [t for _, _, t in publication_times(backlog)], at) == timedelta(days=2)

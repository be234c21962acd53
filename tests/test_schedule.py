from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsriver.schedule import Policy, is_due, next_poll

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = Policy(interval=timedelta(minutes=30))


def test_success_polls_after_the_interval_within_the_jitter_band() -> None:
    assert next_poll(NOW, POLICY, 0, 0.5) == NOW + timedelta(minutes=30)
    assert next_poll(NOW, POLICY, 0, 0.0) == NOW + timedelta(minutes=27)
    assert next_poll(NOW, POLICY, 0, 0.999999) > NOW + timedelta(minutes=32, seconds=59)


def test_errors_back_off_exponentially_up_to_the_cap_and_never_stop() -> None:
    waits = [next_poll(NOW, POLICY, errors, 0.5) - NOW for errors in range(8)]
    assert waits[:4] == [timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert waits[-1] == timedelta(hours=24)
    assert next_poll(NOW, POLICY, 10_000, 0.5) - NOW == timedelta(hours=24)


def test_an_interval_longer_than_the_cap_is_kept() -> None:
    weekly = Policy(interval=timedelta(days=7))
    assert next_poll(NOW, weekly, 3, 0.5) - NOW == timedelta(days=7)


def test_is_due() -> None:
    assert is_due(None, NOW)
    assert is_due(NOW, NOW)
    assert not is_due(NOW + timedelta(seconds=1), NOW)

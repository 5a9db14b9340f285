"""The benchmark code runs end to end on a tiny backlog (no figure is checked)."""

from __future__ import annotations

import pytest

from bench.__main__ import arguments, problems, run, table
from bench.platform_scale import platform_problems, platform_table, run_platform
from tests.servers.dovecot import dovecot_available
from tests.support.store import postgres_user

__all__ = ["postgres_user"]


@pytest.mark.slow
@pytest.mark.dovecot
async def test_bench_runs_on_five_mails() -> None:
    if not dovecot_available():
        pytest.skip("NOTICE: Dovecot is not installed: bench smoke test skipped")
    args = arguments().parse_args(["-n", "5", "--latency", "2", "--parse-seconds", "0.01",
                                   "--no-scheduler", "--no-platform", "--year-days", "0"])
    result = await run(args)
    assert problems(result) == []
    service, baseline = result["backlog"]["service"][0], result["backlog"]["baseline"][0]
    assert service["outcomes"] == {"answered": 5, "own-copy": 5}
    assert baseline["answered"] == 5
    assert result["backlog_ratio"] > 0 and result["latency_p95_s"] > 0
    assert result["scheduler_rebuild_s"] is None and "skipped" in result["scheduler"]["reason"]
    assert table(result).row_count >= 8
    assert "year" not in result


@pytest.mark.slow
@pytest.mark.dovecot
@pytest.mark.postgres
async def test_the_platform_bench_runs_on_two_teams(monkeypatch: pytest.MonkeyPatch,
                                                    postgres_user: str) -> None:
    if not dovecot_available():
        pytest.skip("NOTICE: Dovecot is not installed: bench smoke test skipped")
    monkeypatch.setenv("BENCH_PLATFORM", "1x2")
    result = await run_platform(mails=3)
    assert platform_problems(result) == []
    (cell,) = result["throughput"]
    assert (cell["workers"], cell["teams"], cell["mails"]) == (1, 2, 6)
    failover = result["failover"]
    assert failover["teams_lost"] >= 1 and failover["leases_retaken_s"] is not None
    assert failover["mail_answered_s"] is not None
    assert platform_table(result).row_count == 1

"""The ``[reminders]`` section of the configuration: defaults, values, mistakes."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from esp_coord.config import ConfigError, ReminderSettings, config_from_dict
from plans.days_off import DaysOff

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "esp.example.toml"


def _data(**reminders: Any) -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    if reminders:
        data["reminders"] = reminders
    else:
        data.pop("reminders", None)
    return data


def test_defaults_without_the_section() -> None:
    config = config_from_dict(_data(), path=EXAMPLE)
    assert config.reminders == ReminderSettings()
    assert (config.reminders.hour, config.reminders.overdue_days,
            config.reminders.meeting_offsets) == (time(8), 3, (7, 1))
    # One mail a day per person unless asked otherwise (issue 17).
    assert config.reminders.digest
    assert config.reminders.wants_digest("claire.durand@medecin.mssante.test")


def test_values_are_read() -> None:
    config = config_from_dict(_data(hour="07:30", overdue_days=5, meeting_offsets=[1, 14, 1],
                                    digest=False,
                                    digest_members=["Julien.Marie@infirmier.mssante.test"]),
                              path=EXAMPLE)
    settings = config.reminders
    assert settings.hour == time(7, 30) and settings.overdue_days == 5
    assert settings.meeting_offsets == (14, 1)
    assert settings.wants_digest("julien.marie@infirmier.mssante.test")
    assert not settings.wants_digest("claire.durand@medecin.mssante.test")
    assert config_from_dict(_data(digest=True), path=EXAMPLE).reminders.wants_digest("x@y")


def test_some_people_may_keep_one_mail_per_reminder() -> None:
    settings = config_from_dict(_data(per_action_members=["Claire.Durand@medecin.mssante.test"]),
                                path=EXAMPLE).reminders
    assert settings.digest and not settings.wants_digest("claire.durand@medecin.mssante.test")
    assert settings.wants_digest("julien.marie@infirmier.mssante.test")


def test_days_off_and_territory() -> None:
    config = config_from_dict(_data(), path=EXAMPLE)
    assert config.reminders.days_off == DaysOff()     # weekends and metropole's holidays
    data = _data(days_off=["sunday", "holidays"])
    data["team"]["territory"] = "la-reunion"
    off = config_from_dict(data, path=EXAMPLE).reminders.days_off
    assert off.weekdays == {6} and off.holidays and off.territory == "la-reunion"
    assert off.holiday(date(2027, 12, 20)) == "Abolition de l'esclavage"
    assert config_from_dict(_data(days_off=[]), path=EXAMPLE).reminders.days_off == (
        DaysOff.none())
    wrong = _data(days_off=["samedi"])
    wrong["team"]["territory"] = "bretagne"
    with pytest.raises(ConfigError) as caught:
        config_from_dict(wrong, path=EXAMPLE)
    assert "reminders.days_off" in str(caught.value) and "team.territory" in str(caught.value)


def test_every_mistake_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(_data(hour="8h", overdue_days=0, meeting_offsets=[7, "x"],
                               digest="yes", digest_members=["nobody@x.test"],
                               per_action_members=["nobody@x.test", "else@x.test"]),
                         path=EXAMPLE)
    text = str(caught.value)
    for key in ("reminders.hour", "reminders.overdue_days", "reminders.meeting_offsets",
                "reminders.digest", "reminders.digest_members",
                "reminders.per_action_members", "each address in one list at most"):
        assert key in text

"""Problem themes: declared by the team (``[team] themes``), carried by a plan
(« Thème : » in NOUVEAU PPS and MAJ), counted by the report."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from esp_coord.config import ConfigError, config_from_dict
from esp_coord.report.indicators import compute
from esp_coord.store.records import MailActivity
from plans.grammar import parse_new_plan, parse_update
from plans.model import Plan
from plans.periods import parse_period
from tests.support.config import offline_config
from tests.support.plans_examples import DURAND, ROSTER

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "esp.example.toml"
THEMES = ("Personnes âgées fragiles", "Diabète et maladies chroniques",
          "Soins palliatifs à domicile", "Soins non programmés")
MINIMAL = ("Patient : MARTIN Jeanne\nNée le : 12/03/1948\nINS : 2 48 03 75 056 118 78\n"
           "Consentement : oui\n")
TODAY = date(2026, 11, 23)


def lines(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.splitlines(), start=1))


def new(text: str, themes: tuple[str, ...] = THEMES):  # type: ignore[no-untyped-def]
    return parse_new_plan(lines(MINIMAL + text), today=TODAY, sender=DURAND, roster=ROSTER,
                          themes=themes)


def _config(themes: object) -> dict:  # type: ignore[type-arg]
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "localhost", "security": "none", "auth": "none"}
    data["team"]["themes"] = themes
    return data


def test_the_team_declares_its_themes() -> None:
    config = config_from_dict(_config(list(THEMES)), path=Path("/etc/esp/team.toml"))
    assert config.themes == THEMES
    assert config_from_dict(_config([]), path=Path("/x.toml")).themes == ()
    for wrong in ("Diabète", ["Diabète", "DIABETE"], ["", "x"], ["x" * 81], [3]):
        with pytest.raises(ConfigError) as info:
            config_from_dict(_config(wrong), path=Path("/etc/esp/team.toml"))
        assert "team.themes" in " ".join(info.value.problems)


def test_a_plan_names_its_themes_as_people_write_them() -> None:
    parsed = new("Thème : diabète\nThématique : personnes agees fragiles, soins palliatifs\n"
                 "Theme : Diabète et maladies chroniques\n")
    assert parsed.ok and parsed.warnings == []
    assert parsed.value is not None
    assert parsed.value.themes == ["Diabète et maladies chroniques",
                                   "Personnes âgées fragiles", "Soins palliatifs à domicile"]


def test_an_unknown_theme_is_an_error_with_the_team_s_list() -> None:
    parsed = new("Thème : diabete gestationnel\nThème : soins\n")
    assert not parsed.ok
    assert [e.field for e in parsed.errors] == ["theme", "theme"]
    first = parsed.errors[0]
    assert "n'est pas un thème de l'équipe" in first.problem
    assert all(t in first.expected for t in THEMES)
    assert first.example == "Thème : Diabète et maladies chroniques"
    # « soins » begins two themes: ambiguous, never guessed.
    assert "« soins »" in parsed.errors[1].problem


def test_without_declared_themes_the_line_stays_a_note() -> None:
    parsed = new("Thème : diabète\n", themes=())
    assert parsed.ok and parsed.value is not None
    assert parsed.value.themes == [] and parsed.value.notes == ["Thème : diabète"]
    assert "n'a pas déclaré de thèmes" in parsed.warnings[0].message


def test_a_maj_adds_a_theme_once() -> None:
    draft = new("Thème : diabète\n").value
    assert draft is not None
    plan = Plan.create(draft, ref="PPS-2026-0001", author=DURAND.email,
                       at=datetime(2026, 11, 23, 9, tzinfo=UTC), source_message_id=None)
    update = parse_update(lines("Thème : palliatifs, diabète\n"), today=TODAY, sender=DURAND,
                          team=[DURAND], roster=ROSTER, themes=THEMES)
    assert update.ok and update.value is not None
    changes = plan.apply(update.value, author=DURAND.email,
                         at=datetime(2026, 11, 24, 9, tzinfo=UTC), source_message_id=None)
    assert changes == [("theme", "Soins palliatifs à domicile")]
    assert plan.themes == ["Diabète et maladies chroniques", "Soins palliatifs à domicile"]
    assert plan.versions[-1].summary == "mise à jour : 1 thème"
    assert Plan.from_dict(plan.to_dict()).themes == plan.themes
    old = plan.to_dict()
    del old["themes"]  # a plan stored before themes existed
    assert Plan.from_dict(old).themes == []


def _plan(ref: str, themes: list[str]) -> Plan:
    draft = new("").value
    assert draft is not None
    draft.themes = themes
    return Plan.create(draft, ref=ref, author=DURAND.email,
                       at=datetime(2026, 10, 5, 9, tzinfo=UTC), source_message_id=None)


def test_the_report_counts_plans_by_declared_theme() -> None:
    plans = [_plan("PPS-2026-0001", [THEMES[1]]), _plan("PPS-2026-0002", [THEMES[1], THEMES[0]]),
             _plan("PPS-2026-0003", []), _plan("PPS-2026-0004", ["Thème retiré"])]
    config = offline_config()
    args = dict(team="T", plans=plans, meetings=[], mail=MailActivity(0, 0, 0, 0, ()),
                members=config.members, period=parse_period("T4 2026", today=TODAY),
                tz=ZoneInfo("Europe/Paris"))
    figure = compute(**args, themes=THEMES).figure("plans_by_theme")  # type: ignore[arg-type]
    assert figure.breakdown == {THEMES[0]: 1, THEMES[1]: 2, "sans thème": 2}
    assert figure.value == 3 and figure.count  # counts of patients: « < 5 » outside
    assert "Thème" in figure.how
    with pytest.raises(KeyError):  # no declared theme, no figure
        compute(**args).figure("plans_by_theme")  # type: ignore[arg-type]

"""A plan as a FHIR R4 Bundle: valid for fhir.resources, INS under its OID,
resources tied together, nothing but this plan's patient."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.patient import Patient

from esp_coord.config import Config
from esp_coord.fhir_export import INS_SYSTEM, RPPS_SYSTEM, plan_bundle, plan_bundle_json
from esp_coord.handlers.common import library
from esp_coord.intake import parse_mail
from esp_coord.offline_config import load_offline_config
from esp_coord.roster import people_of
from plans.commands import detect_command
from plans.grammar import parse_new_plan
from plans.model import Plan

CONFIG = Path(__file__).resolve().parents[2] / "config" / "esp.example.toml"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_offline_config(CONFIG)


def created(raw: bytes, config: Config, ref: str) -> Plan:
    """The plan the service creates from a NOUVEAU PPS mail (same grammar, same model)."""
    mail = parse_mail(raw)
    assert mail.date is not None
    detected = detect_command(mail.subject, mail.body)
    people = people_of(config)
    sender = next(p for p in people if p.email == mail.from_address)
    parsed = parse_new_plan(detected.lines, today=mail.date.astimezone(config.timezone).date(),
                            sender=sender, roster=people, library=library())
    assert parsed.value is not None, parsed.errors
    return Plan.create(parsed.value, ref=ref, author=sender.email, at=mail.date,
                       source_message_id=mail.message_id, protocols=library())


@pytest.fixture(scope="module")
def martin(config: Config, example_messages: dict[str, bytes]) -> Plan:
    return created(example_messages["01-nouveau-pps"], config, "PPS-2026-0001")


def resources(bundle_json: str) -> dict[str, list[dict[str, Any]]]:
    data = json.loads(bundle_json)
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in data["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


def test_bundle_validates_and_round_trips(martin: Plan, config: Config) -> None:
    text = plan_bundle_json(martin, config.members, timestamp=datetime(2026, 11, 23, tzinfo=UTC))
    bundle = Bundle.model_validate_json(text)  # what another system would do with it
    assert bundle.type == "collection"
    by_type = resources(text)
    assert {k: len(v) for k, v in by_type.items()} == {
        "Patient": 1, "CareTeam": 1, "Goal": 2, "CarePlan": 1}
    urls = {e.fullUrl for e in bundle.entry}
    care_plan = by_type["CarePlan"][0]
    references = [care_plan["subject"]["reference"], care_plan["careTeam"][0]["reference"],
                  *(g["reference"] for g in care_plan["goal"]),
                  by_type["CareTeam"][0]["subject"]["reference"],
                  *(g["subject"]["reference"] for g in by_type["Goal"])]
    assert set(references) <= urls  # every reference resolves inside the bundle


def test_patient_identity_with_ins_oid(martin: Plan, config: Config) -> None:
    (patient,) = resources(plan_bundle_json(martin, config.members))["Patient"]
    Patient.model_validate(patient)
    assert patient["identifier"] == [{"use": "official", "system": INS_SYSTEM,
                                      "value": "248037505611878"}]
    assert INS_SYSTEM == "urn:oid:1.2.250.1.213.1.4.8"
    assert patient["name"][0] == {"use": "official", "family": "MARTIN", "given": ["Jeanne"]}
    assert (patient["gender"], patient["birthDate"]) == ("female", "1948-03-12")


def test_care_plan_team_and_goals(martin: Plan, config: Config) -> None:
    by_type = resources(plan_bundle_json(martin, config.members))
    care_plan = by_type["CarePlan"][0]
    CarePlan.model_validate(care_plan)
    assert (care_plan["status"], care_plan["intent"]) == ("active", "plan")
    assert care_plan["identifier"][0]["value"] == "PPS-2026-0001"
    assert len(care_plan["activity"]) == len(martin.actions)
    weekly = care_plan["activity"][0]["detail"]
    assert weekly["description"] == martin.actions[0].what
    assert weekly["scheduledTiming"]["repeat"]["periodUnit"] == "wk"
    assert weekly["performer"][0]["display"] == "Julien MARIE"
    one_off = care_plan["activity"][1]["detail"]
    assert one_off["scheduledTiming"] == {"event": ["2026-12-15"]}
    team = by_type["CareTeam"][0]
    members = {p["member"]["display"]: [r["text"] for r in p["role"]]
               for p in team["participant"]}
    assert members["Claire DURAND"][0] == "référent du plan"
    assert set(members) >= {"Claire DURAND", "Julien MARIE", "Sophie LEROY", "Karim BENALI"}
    durand = next(p for p in team["participant"] if p["member"]["display"] == "Claire DURAND")
    assert durand["member"]["identifier"] == {"system": RPPS_SYSTEM, "value": "810008456237"}
    assert sorted(g["description"]["text"] for g in by_type["Goal"]) == sorted(
        martin.objectives)


def test_closed_plan_and_done_action(config: Config, example_messages: dict[str, bytes]
                                     ) -> None:
    plan = created(example_messages["01-nouveau-pps"], config, "PPS-2026-0003")
    at = datetime(2026, 12, 16, 10, tzinfo=UTC)
    plan.mark_done(2, by="sophie.leroy@pharmacien.mssante.test", on=date(2026, 12, 15), at=at)
    plan.close(by="claire.durand@medecin.mssante.test", at=at, source_message_id=None)
    bundle = plan_bundle(plan, config.members)
    care_plan = next(e.resource for e in bundle.entry if e.resource.__resource_type__ ==
                     "CarePlan")
    assert care_plan.status == "completed"
    assert care_plan.period.end is not None
    assert care_plan.activity[1].detail.status == "completed"
    assert care_plan.activity[1].progress


def test_times_of_day_in_the_timing(config: Config, example_messages: dict[str, bytes]
                                    ) -> None:
    plan = created(example_messages["01-nouveau-pps"], config, "PPS-2026-0004")
    weekly, one_off, *_ = plan.actions
    weekly.when = dataclasses.replace(weekly.when, time_of_day=time(9, 0))
    one_off.when = dataclasses.replace(one_off.when, time_of_day=time(14, 30))
    text = plan_bundle_json(plan, config.members)
    bundle = Bundle.model_validate_json(text)  # what another system would do with it
    care_plan = next(e.resource for e in bundle.entry if e.resource.__resource_type__ ==
                     "CarePlan")
    first, second = (a.detail.scheduledTiming for a in care_plan.activity[:2])
    assert first.repeat.timeOfDay == [time(9, 0)] and first.repeat.periodUnit == "wk"
    assert second.event is None and second.repeat.count == 1
    assert second.repeat.timeOfDay == [time(14, 30)]
    assert (second.repeat.boundsPeriod.start, second.repeat.boundsPeriod.end) == (
        date(2026, 12, 15), date(2026, 12, 15))
    assert second.code.text == "le 15/12/2026 à 14h30"
    untimed = next(a for a in json.loads(text)["entry"][-1]["resource"]["activity"][2:]
                   if a["detail"].get("scheduledTiming", {}).get("repeat"))
    assert "timeOfDay" not in untimed["detail"]["scheduledTiming"]["repeat"]


def test_only_this_plans_patient(martin: Plan, config: Config,
                                 example_messages: dict[str, bytes]) -> None:
    petit = created(example_messages["07-html-outlook"], config, "PPS-2026-0002")
    text = plan_bundle_json(martin, config.members)
    assert petit.patient.ins not in text and "PETIT" not in text and "Odette" not in text
    other = plan_bundle_json(petit, config.members)
    assert martin.patient.ins not in other and "MARTIN" not in other
    ids = {e["fullUrl"] for e in json.loads(text)["entry"]}
    assert not ids & {e["fullUrl"] for e in json.loads(other)["entry"]}

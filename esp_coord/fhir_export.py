"""A care plan as a FHIR R4 Bundle (type ``collection``), for the team's other systems.

``plan_bundle(plan, members)`` builds the resources of one plan and validates
the whole bundle with ``fhir.resources.R4B`` (pydantic models of the R4B
release, whose CarePlan, CareTeam, Goal and Patient are those of R4):

- ``Patient``: the INS as identifier under OID 1.2.250.1.213.1.4.8 (INS-NIR),
  name, birth date, gender;
- ``CareTeam``: the plan's team, each member with their role (référent of the
  plan, profession) and RPPS identifier when the roster has it;
- ``Goal``: one per objective;
- ``CarePlan``: status active/completed, the actions as activities (who,
  what, when as a FHIR Timing, a time of day as ``repeat.timeOfDay``, also for
  a one-off action: once, on its day), problems, preferences, alerts and notes
  as annotations.

Only this one plan's patient is in the bundle. Resource ids are derived from
the plan reference, so exporting the same plan twice gives the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from esp_coord.config import Member
from plans.model import CANCELLED, DONE, Action, Plan
from plans.people import profession_name
from plans.recurrence import Rhythm

__all__ = ["INS_SYSTEM", "RPPS_SYSTEM", "plan_bundle", "plan_bundle_json"]

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"  # INS-NIR
# IdNat_PS, the national identifier of professionals: "8" followed by the RPPS.
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
PLAN_SYSTEM = "urn:esp-coord:plan"
_NAMESPACE = uuid.UUID("0f6f0a5e-6d2b-4b53-9c63-1f5d0a7c2e11")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UNITS = {"DAILY": "d", "WEEKLY": "wk", "MONTHLY": "mo", "YEARLY": "a"}


def _url(plan: Plan, kind: str, index: int = 0) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{plan.ref}/{kind}/{index}')}"


def _ref(url: str, display: str | None = None) -> dict[str, Any]:
    return {"reference": url, **({"display": display} if display else {})}


def _member_ref(address: str | None, members: dict[str, Member]) -> dict[str, Any]:
    member = members.get(address or "")
    if member is None:
        return {"display": address or "non attribué"}
    if member.rpps:
        identifier = {"system": RPPS_SYSTEM, "value": f"8{member.rpps}"}
    else:
        identifier = {"system": "urn:ietf:rfc:3986", "value": f"mailto:{member.email}"}
    return {"identifier": identifier, "display": member.name}


def _patient(plan: Plan) -> dict[str, Any]:
    p = plan.patient
    return {"resourceType": "Patient",
            "identifier": [{"use": "official", "system": INS_SYSTEM, "value": p.ins}],
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "gender": {"F": "female", "M": "male"}.get(p.sex, "unknown"),
            "birthDate": p.birth_date.isoformat()}


def _care_team(plan: Plan, members: dict[str, Member], patient: str) -> dict[str, Any]:
    participants = []
    for address in plan.team:
        member = members.get(address)
        roles = []
        if address == plan.referent:
            roles.append({"text": "référent du plan"})
        if member is not None:
            roles.append({"text": profession_name(member.profession)})
        participants.append({"role": roles or [{"text": "membre de l'équipe"}],
                             "member": _member_ref(address, members)})
    return {"resourceType": "CareTeam",
            "status": "active" if plan.is_active else "inactive",
            "name": f"Équipe de soins du plan {plan.ref}",
            "subject": _ref(patient), "participant": participants}


def _goal(text: str, patient: str, active: bool) -> dict[str, Any]:
    return {"resourceType": "Goal", "lifecycleStatus": "active" if active else "completed",
            "description": {"text": text}, "subject": _ref(patient)}


def _repeat(rhythm: Rhythm) -> dict[str, Any]:
    repeat: dict[str, Any] = {"frequency": rhythm.per_week or rhythm.per_month
                              or rhythm.per_day or 1,
                              "period": rhythm.interval, "periodUnit": _UNITS[rhythm.freq]}
    if rhythm.per_day:
        repeat["periodUnit"] = "d"
    if rhythm.byweekday and rhythm.bysetpos is None:
        repeat["dayOfWeek"] = [_DAYS[d] for d in rhythm.byweekday]
    return repeat


def _timing(action: Action) -> dict[str, Any]:
    when = action.when
    # A FHIR dateTime with a time needs a UTC offset; timeOfDay is the team's
    # local time, as the professionals wrote it, whatever the season.
    at = [when.time_of_day.isoformat("seconds")] if when.time_of_day else []
    if when.rhythm is None:
        if when.due is None:
            return {}
        if not at:
            return {"event": [when.due.isoformat()]}
        day = when.due.isoformat()
        return {"repeat": {"count": 1, "boundsPeriod": {"start": day, "end": day},
                           "timeOfDay": at}, "code": {"text": when.describe()}}
    repeat = _repeat(when.rhythm)
    if at:
        repeat["timeOfDay"] = at
    start = action.start or when.due
    if start or when.until:
        repeat["boundsPeriod"] = {k: v.isoformat() for k, v in
                                  (("start", start), ("end", when.until)) if v}
    # The words keep what FHIR cannot say ("le premier jeudi de chaque mois").
    return {"repeat": repeat, "code": {"text": when.describe()}}


def _activity_status(action: Action) -> str:
    if action.status == DONE:
        return "completed"
    if action.status == CANCELLED:
        return "cancelled"
    if action.done:
        return "in-progress"
    return "scheduled" if action.due else "not-started"


def _activity(action: Action, members: dict[str, Member]) -> dict[str, Any]:
    detail: dict[str, Any] = {"status": _activity_status(action), "description": action.what,
                              "performer": [_member_ref(action.assignee, members)]}
    timing = _timing(action)
    if timing:
        detail["scheduledTiming"] = timing
    activity: dict[str, Any] = {"detail": detail}
    if action.done:
        activity["progress"] = [{"time": o.at.isoformat() if o.at else o.on.isoformat(),
                                 "text": f"fait le {o.on:%d/%m/%Y}"
                                 + (f" : {o.comment}" if o.comment else "")}
                                for o in action.done]
    return activity


def _notes(plan: Plan) -> list[dict[str, Any]]:
    notes = [{"text": f"Problème : {t}"} for t in plan.problems]
    notes += [{"text": f"Souhaits du patient : {t}"} for t in plan.preferences]
    notes += [{"text": f"Alerte : {t}"} for t in plan.alerts]
    notes += [{"text": n.text, "authorString": n.author, "time": n.at.isoformat()}
              for n in plan.notes]
    if plan.review_date:
        notes.append({"text": f"Réévaluation prévue le {plan.review_date:%d/%m/%Y}"})
    return notes


def _care_plan(plan: Plan, members: dict[str, Member], patient: str, team: str,
               goals: list[str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "identifier": [{"system": PLAN_SYSTEM, "value": plan.ref}],
        "status": "active" if plan.is_active else "completed",
        "intent": "plan",
        "title": f"Plan personnalisé de santé {plan.ref}",
        "subject": _ref(patient),
        "created": plan.created_at.isoformat(),
        "period": {"start": plan.created_at.date().isoformat(),
                   **({"end": plan.closed_at.date().isoformat()} if plan.closed_at else {})},
        "author": _member_ref(plan.referent, members),
        "careTeam": [_ref(team)],
        "goal": [_ref(g) for g in goals],
        "activity": [_activity(a, members) for a in plan.actions],
        "note": _notes(plan),
    }
    if plan.protocols:
        resource["description"] = "Protocoles : " + ", ".join(p.title for p in plan.protocols)
    return {k: v for k, v in resource.items() if v not in ([], None)}


def plan_bundle(plan: Plan, members: Sequence[Member], *,
                timestamp: datetime | None = None) -> Bundle:
    """The plan as a validated FHIR Bundle. Raises pydantic's ValidationError
    if a resource does not conform (a bug here, never the user's)."""
    by_address = {m.email: m for m in members}
    patient, team = _url(plan, "Patient"), _url(plan, "CareTeam")
    goals = [_url(plan, "Goal", i) for i in range(len(plan.objectives))]
    entries = [(patient, _patient(plan)), (team, _care_team(plan, by_address, patient))]
    entries += [(url, _goal(text, patient, plan.is_active))
                for url, text in zip(goals, plan.objectives, strict=True)]
    entries.append((_url(plan, "CarePlan"),
                    _care_plan(plan, by_address, patient, team, goals)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "collection",
        "identifier": {"system": PLAN_SYSTEM, "value": f"{plan.ref}.v{plan.version}"},
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }
    if timestamp is not None:
        bundle["timestamp"] = timestamp.isoformat()
    return Bundle.model_validate(bundle)


def plan_bundle_json(plan: Plan, members: Sequence[Member], *,
                     timestamp: datetime | None = None) -> str:
    return plan_bundle(plan, members, timestamp=timestamp).model_dump_json(indent=2)

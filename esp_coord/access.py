"""Who may do what: every access rule of the commands, in one place.

Pure functions of the roster (``config.Member``: its roles), the plan (its
referent and care team, kept in clear beside the encrypted document) and the
meeting (organiser, participants). The handlers call them and write no rule
of their own; ``docs/guide.md`` tells users the same rules.

Plans:

- reading a plan (STATUT, MAJ, FAIT, ANNULER FAIT, REPORTER, CLORE, a
  NOUVEAU PPS that finds the patient's plan): the coordination, the roster's
  referents, the plan's referent and its care team (``may_read``), and,
  during an absence, the substitute its absent member named (they get its
  reminders); LISTE shows the same plans but the substitute's
  (``listed_member``);
- closing it: the coordination, the roster's referents, the plan's referent
  (``may_close``); changing its referent: the plan's referent and the
  coordination (``may_change_referent``).

Meetings (``RCP-…``):

- any member of the roster may plan one; the plans on its agenda, and those
  a compte-rendu decides about, must be active plans one may read
  (``may_cite``);
- RCP lists the meetings one takes part in, all of them for the
  coordination (``lists_meeting``); a meeting named by its reference is
  reached by its participants and those who manage it (``may_reach``);
- cancelling it and its compte-rendu belong to those who manage it: the
  organiser, the coordination and the roster's referents (``may_manage``);
- an agenda names only the patients of the plans its reader may read
  (``readable_refs``).

A refusal never says whether the plan or meeting exists: the handlers give
the same answer for "unknown" and "not yours".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from esp_coord.config import Config, Member
from plans.meetings import Meeting
from plans.model import Plan

__all__ = ["lists_meeting", "listed_member", "may_change_referent", "may_cite", "may_close",
           "may_manage", "may_reach", "may_read", "participants_among", "participants_of",
           "readable_refs", "sees_every_plan", "takes_part"]


# --- plans -------------------------------------------------------------------------


def sees_every_plan(member: Member) -> bool:
    """The coordination and the roster's referents read every plan of the team."""
    return member.is_coordinator or member.is_referent


def may_read(member: Member, plan: Plan, covering: Iterable[str] = ()) -> bool:
    """``covering``: the absent members ``member`` is the named substitute of
    today (``Absences.covered_by``): their plans too, while they are away."""
    people = {plan.referent, *plan.team}
    return sees_every_plan(member) or member.email in people or any(
        address in people for address in covering)


def listed_member(member: Member) -> str | None:
    """LISTE's filter on the plans' members (referent and care team, in clear):
    the member's address, or None for one who sees every plan (``may_read``)."""
    return None if sees_every_plan(member) else member.email


def may_close(member: Member, plan: Plan) -> bool:
    """Issue 4: the roster's referents and coordinators may close any plan of the team."""
    return sees_every_plan(member) or member.email == plan.referent


def may_change_referent(member: Member | None, plan: Plan | None) -> bool:
    """The plan's referent and the coordination. Without the plan (``esp-coord
    parse`` has no database), only the coordination is sure to."""
    if member is None:
        return False
    return member.is_coordinator or (plan is not None and member.email == plan.referent)


def may_cite(member: Member, plan: Plan) -> bool:
    """A plan one may put on a meeting's agenda or record a decision about:
    an active plan one may read."""
    return plan.is_active and may_read(member, plan)


def readable_refs(member: Member | None, plans: Iterable[Plan]) -> set[str]:
    """The plans of an agenda whose patient ``member`` may see named (none
    for no one: a reminder to someone who left the roster)."""
    if member is None:
        return set()
    return {p.ref for p in plans if may_read(member, p)}


# --- meetings ----------------------------------------------------------------------


def participants_of(meeting: Meeting, config: Config) -> list[str]:
    """Who is invited now: « tous » follows the roster; others must still be on it."""
    return participants_among(meeting, config.members)


def participants_among(meeting: Meeting, members: Sequence[Member]) -> list[str]:
    roster = [m.email for m in members]
    if meeting.everyone:
        return roster
    return [a for a in meeting.participants if a in roster]


def takes_part(member: Member, meeting: Meeting, config: Config) -> bool:
    return member.email == meeting.organizer or member.email in participants_of(meeting, config)


def may_manage(member: Member, meeting: Meeting) -> bool:
    """Cancel it, give its compte-rendu."""
    return member.is_coordinator or member.is_referent or member.email == meeting.organizer


def may_reach(member: Member, meeting: Meeting, config: Config) -> bool:
    """A meeting named by its reference (RCP RCP-…, ANNULER, COMPTE-RENDU)."""
    return takes_part(member, meeting, config) or may_manage(member, meeting)


def lists_meeting(member: Member, meeting: Meeting, config: Config) -> bool:
    """RCP lists it (alone or with the meeting's reference). Narrower than
    ``may_reach``: a roster referent who does not take part is not shown the
    meeting, though they may manage it by its reference."""
    return member.is_coordinator or takes_part(member, meeting, config)

"""What a report needs, read in one unit of work: every plan and meeting of
the team (decrypted once), and the mailbox's counts of the period."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from esp_coord.config import Config
from esp_coord.meeting_repo import KIND as MEETING
from esp_coord.plan_repo import KIND as PLAN
from esp_coord.ports import UnitOfWork
from esp_coord.report.indicators import Report, compute
from plans.meetings import Meeting
from plans.model import Plan
from plans.periods import Period


def build_report(tx: UnitOfWork, config: Config, period: Period) -> Report:
    plans = [Plan.from_dict(doc.data) for doc in tx.find_documents(PLAN)]
    meetings = [Meeting.from_dict(doc.data) for doc in tx.find_documents(MEETING)]
    tz = config.timezone
    since = datetime.combine(period.start, time(0), tz)
    until = datetime.combine(period.end + timedelta(days=1), time(0), tz)
    return compute(team=config.team_name, plans=plans, meetings=meetings,
                   mail=tx.mail_activity(since, until), members=config.members,
                   period=period, tz=tz, targets=config.report_targets, themes=config.themes)

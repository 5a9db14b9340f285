"""Reminders: when they are due, who composes them, and the engine that sends them.

- ``registry``: ``Composers``, one composer per kind, gathered by the composition root;
- ``engine``: ``ReminderEngine``, APScheduler-driven dispatch of due rows;
- ``plan_reminders``: the follow-up reminders of care plans (their rows);
  ``plan_mails``: one mail each; ``plan_digest``: the daily digests, which
  ``digest`` lays out (one mail a day per person, by default);
- ``meeting_reminders``: J-7 / J-1 of concertation meetings;
- ``quarantine_notice``: the coordinators' notice of mails left aside.

Rows live in the store (``esp_coord.store.reminders``): the database is the
source of truth, the scheduler only decides when to look at it.
"""

from esp_coord.scheduling.registry import Composer, Composers, Registered

__all__ = ["Composer", "Composers", "Registered"]

"""Reminders: when they are due, who composes them, and the engine that sends them.

- ``registry``: ``Composers``, one composer per kind, gathered by the composition root;
- ``engine``: ``ReminderEngine``, APScheduler-driven dispatch of due rows;
- ``plan_reminders``: the follow-up reminders of care plans.

Rows live in the store (``esp_coord.store.reminders``): the database is the
source of truth, the scheduler only decides when to look at it.
"""

from esp_coord.scheduling.registry import Composer, Composers, Registered

__all__ = ["Composer", "Composers", "Registered"]

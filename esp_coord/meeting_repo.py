"""Concertation meetings in the store: load, find and save them over one unit of work.

Meetings are encrypted documents of kind ``meeting`` (``RCP-2026-001``);
their organiser's and participants' addresses are the document's members (in
clear: not patient data). Like ``plan_repo.PlanRepository``, a
``MeetingRepository`` lives as long as one unit of work and decrypts each
meeting at most once; saving records the history line and nothing else (the
reminders are ``scheduling.meeting_reminders.schedule``'s).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.ports import UnitOfWork
from plans.meetings import Meeting

if TYPE_CHECKING:
    from esp_coord.processing import Request

__all__ = ["KIND", "MeetingRepository"]

KIND = "meeting"


class MeetingRepository:
    """The meetings of one unit of work. ``author``, ``message_id`` and ``at``
    sign the history lines of what it saves."""

    def __init__(self, tx: UnitOfWork, *, author: str | None = None,
                 message_id: str | None = None, at: datetime | None = None) -> None:
        self.tx = tx
        self._author, self._message_id, self._at = author, message_id, at
        self._by_ref: dict[str, tuple[Meeting, int] | None] = {}
        self._active: list[str] | None = None

    @classmethod
    def of(cls, request: Request) -> MeetingRepository:
        """The repository of a mail's handler: changes signed by its sender and mail."""
        return cls(request.tx, author=request.sender.email,
                   message_id=request.mail.message_id, at=request.now)

    def get(self, ref: str) -> tuple[Meeting, int] | None:
        """The meeting ``ref`` and its stored version, None if there is none."""
        if ref not in self._by_ref:
            doc = self.tx.load_document(KIND, ref)
            self._by_ref[ref] = None if doc is None else (Meeting.from_dict(doc.data),
                                                          doc.version)
        return self._by_ref[ref]

    def active(self) -> list[Meeting]:
        """Every active meeting (series not cancelled), oldest first."""
        if self._active is None:
            refs = []
            for doc in self.tx.find_documents(KIND, status="active"):
                if self._by_ref.get(doc.ref) is None:
                    self._by_ref[doc.ref] = (Meeting.from_dict(doc.data), doc.version)
                refs.append(doc.ref)
            self._active = refs
        found = [self._by_ref[ref] for ref in self._active]
        return [m for m, _ in filter(None, found) if m.is_active]

    def add(self, meeting: Meeting, *, summary: str) -> int:
        """Store a new meeting (version 1) with its history line."""
        version = self._write(meeting, expected=None, summary=summary)
        self._by_ref[meeting.ref] = (meeting, version)
        return version

    def save(self, meeting: Meeting, *, summary: str) -> int:
        """Store the changes of a meeting loaded through this repository, with
        its history line; returns the new version."""
        loaded = self._by_ref.get(meeting.ref)
        if loaded is None or loaded[0] is not meeting:
            raise ValueError(f"meeting {meeting.ref} was not loaded through this repository")
        version = self._write(meeting, expected=loaded[1], summary=summary)
        self._by_ref[meeting.ref] = (meeting, version)
        return version

    def _write(self, meeting: Meeting, *, expected: int | None, summary: str) -> int:
        if self._author is None or self._at is None:
            raise ValueError("a repository without an author does not save")
        version = self.tx.save_document(
            kind=KIND, ref=meeting.ref, data=meeting.to_dict(), status=meeting.status,
            expected_version=expected, members={meeting.organizer, *meeting.participants},
            at=self._at)
        self.tx.add_history(kind=KIND, ref=meeting.ref, version=version, author=self._author,
                            source_message_id=self._message_id, at=self._at,
                            change={"summary": summary})
        return version

"""The audit record every handler writes for a read, a change or a refusal.

Called last in a handler, after its other writes (see esp_coord/store/audit.py
on lock order). The detail is built by the caller from numbers and references
only ("action 3, version 4"): never from the mail's text, never patient data.
"""

from __future__ import annotations

from esp_coord.processing import Request


def record(request: Request, action: str, ref: str | None = None,
                 detail: str = "") -> None:
    request.tx.audit(request.sender.email, action, ref, request.mail.message_id,
                           detail, request.now)

"""The hostile mails that must take the real path reuse the end-to-end servers."""

from __future__ import annotations

from tests.e2e.conftest import dovecot, front, team

__all__ = ["dovecot", "front", "team"]

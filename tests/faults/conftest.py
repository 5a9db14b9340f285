"""The fault campaign reuses the end-to-end servers: a real Dovecot and the SMTP front."""

from __future__ import annotations

from tests.e2e.conftest import dovecot, front, team

__all__ = ["dovecot", "front", "team"]

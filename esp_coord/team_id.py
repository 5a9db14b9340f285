"""A team's id: whose rows are whose in a database several teams share."""

from __future__ import annotations

import re

# The id of a team whose configuration names none (and of the rows written
# before teams had ids: migration 0009).
DEFAULT_TEAM = "default"
TEAM_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")

"""Where the tests find the repository's example files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
# The shared examples are the source of truth; the repository keeps a copy
# (config/examples) so that a clone without ../shared still runs every test.
EXAMPLES = SHARED / "examples" if (SHARED / "examples").is_dir() else ROOT / "config" / "examples"
EXAMPLE_CONFIG = ROOT / "config" / "esp.example.toml"
# The repository's own copy of the example mails (some tests read exactly these).
EXAMPLE_MESSAGES = ROOT / "config" / "examples" / "messages"

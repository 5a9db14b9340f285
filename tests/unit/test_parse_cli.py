"""``esp-coord parse``: one JSON object on stdout, exit status by outcome."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from esp_coord.entrypoints.cli import main
from tests.support.paths import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "esp.example.toml"
MESSAGES = EXAMPLES / "messages"


def parse(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["parse", "--config", str(CONFIG), *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def report(out: str) -> dict[str, Any]:
    value = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize(("stem", "code", "command"), [
    ("01-nouveau-pps", 0, "create_plan"),
    ("06-erreurs", 1, "create_plan"),
    ("08-expediteur-inconnu", 3, "ignored"),
    ("09-absence-auto", 3, "ignored"),
])
def test_exit_status_and_json(capsys: pytest.CaptureFixture[str], stem: str, code: int,
                              command: str) -> None:
    status, out, _ = parse(capsys, str(MESSAGES / f"{stem}.eml"))
    r = report(out)
    assert (status, r["command"]) == (code, command)
    assert bool(r["errors"]) == (code == 1)


def test_compact_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = parse(capsys, "--compact", str(MESSAGES / "05-fait.eml"))
    assert status == 0 and out.count("\n") == 1
    assert report(out)["action_number"] == 3


def test_unreadable_file_and_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = parse(capsys, str(tmp_path / "missing.eml"))
    assert (status, out) == (2, "") and "missing.eml" in err
    with pytest.raises(SystemExit) as exited:
        main(["parse", "--config", str(tmp_path / "none.toml"), str(MESSAGES / "05-fait.eml")])
    assert exited.value.code == 2


def test_installed_command_reads_stdin_without_mail_secrets() -> None:
    # The real entry point, in a clean environment: no IMAP/SMTP password is
    # needed to read a mail.
    raw = (MESSAGES / "10-latin1-qp.eml").read_bytes()
    done = subprocess.run([sys.executable, "-c",
                           "from esp_coord.entrypoints.cli import main; main()",
                           "parse", "--config", str(CONFIG), "-"], input=raw,
                          capture_output=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    r = json.loads(done.stdout)
    assert r["actions"][0]["rhythm"] == "FREQ=DAILY;INTERVAL=2"

"""``esp-coord parse`` on a hospital's document: what the service understands
of the archive (JSON), given the mail or the archive alone; nothing logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from esp_coord.entrypoints.cli import main
from tests.support.xdm import Letter, xdm_archive, xdm_mail

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "esp.example.toml"
PRODUCTION = Letter(ins_oid="1.2.250.1.213.1.4.8")


def parse(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any]]:
    with pytest.raises(SystemExit) as exited:
        main(["parse", "--config", str(CONFIG), str(path)])
    out, _ = capsys.readouterr()
    return int(exited.value.code or 0), json.loads(out)


def test_a_document_mail_is_reported_as_a_document(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "lettre.eml"
    path.write_bytes(xdm_mail(PRODUCTION))
    with caplog.at_level(logging.DEBUG):
        status, report = parse(capsys, path)
    assert (status, report["command"], report["errors"]) == (0, "document", [])
    document = report["document"]
    assert document["type_code"] == "11490-0" and document["discharge_letter"]
    assert document["patient"]["ins"] == "279035121518989"
    assert document["institution"] == "Hôpital Européen Georges Pompidou"
    assert not any("PAT-TROIS" in r.getMessage() or "279035" in r.getMessage()
                   for r in caplog.records)


def test_an_archive_alone_is_understood(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    path = tmp_path / "IHE_XDM.ZIP"
    path.write_bytes(xdm_archive(PRODUCTION))
    status, report = parse(capsys, path)
    assert status == 0 and report["error_code"] is None
    assert report["title"] == "Lettre de liaison à la sortie de l'établissement de santé"
    assert report["patient"]["birth_date"] == "1979-03-28"


def test_what_the_service_would_refuse_carries_its_code(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The example configuration is a production one: a test INS is no INS.
    path = tmp_path / "IHE_XDM.ZIP"
    path.write_bytes(xdm_archive())
    status, report = parse(capsys, path)
    assert (status, report["error_code"]) == (1, 903)
    mail = tmp_path / "lettre.eml"
    mail.write_bytes(xdm_mail(archive=b"PK\x03\x04 not an archive"))
    status, report = parse(capsys, mail)
    assert (status, report["command"], report["document"]["error_code"]) == (1, "document", 906)

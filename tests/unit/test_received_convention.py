"""What the header block of a document mail says, read before any body."""

from __future__ import annotations

import pytest

from esp_coord.intake import parse_head, parse_mail
from esp_coord.intake.headers import MAX_CDA_CODES, cda_codes, yes_no
from esp_coord.received.convention import announces_xdm, carries_xdm, is_replacement
from esp_coord.triage import read_and_triage
from tests.support.config import offline_config
from tests.support.xdm import HOSPITAL, xdm_mail


@pytest.mark.parametrize(("subject", "announced"), [
    ("XDM/1.0/DDM+Lettre de liaison PAT-TROIS DOMINIQUE 28/03/1979", True),
    ("xdm/1.0/ddm+CR biologie DUPONT Marie 01/02/1950", True),
    ("[Annule et remplace] XDM/1.0/DDM+Lettre DUPONT Marie 01/02/1950", True),
    ("TR: XDM/1.0/DDM+Lettre DUPONT Marie 01/02/1950", True),
    ("Lettre de sortie de Mme DUPONT", False),
    ("RE: XDM a revoir", False),
    ("", False),
])
def test_the_subject_convention(subject: str, announced: bool) -> None:
    mail = parse_head(xdm_mail(subject=subject, headers=""))
    assert announces_xdm(mail) is announced


def test_x_mss_codecda_alone_announces_it() -> None:
    mail = parse_head(xdm_mail(subject="Lettre", headers="X-MSS-CODECDA: 11490-0\r\n"))
    assert mail.mss_cda_codes == ("11490-0",) and announces_xdm(mail)


def test_cda_codes_are_short_tokens_bounded_in_number() -> None:
    assert cda_codes(["11490-0, 11502-2;34133-9", "11490-0"]) == ("11490-0", "11502-2",
                                                                    "34133-9")
    assert cda_codes(["<script>", "a" * 40]) == ()
    assert len(cda_codes([" ".join(f"{i}-0" for i in range(1000))])) == MAX_CDA_CODES
    assert (yes_no("O"), yes_no(" n "), yes_no("oui"), yes_no("peut-être"), yes_no(None)) == (
        "O", "N", "O", None, None)


def test_the_archive_is_found_in_the_mime_structure() -> None:
    assert carries_xdm(parse_mail(xdm_mail()))
    assert not carries_xdm(parse_mail(xdm_mail(attachment_name="lettre.zip")))
    assert not carries_xdm(parse_head(xdm_mail()))  # the head alone never says


def test_a_replacement_is_said_in_the_subject() -> None:
    assert is_replacement(parse_head(xdm_mail(replacement=True)))
    assert is_replacement(parse_head(xdm_mail(subject="[ANNULE ET REMPLACE] XDM/1.0/DDM+x")))
    assert not is_replacement(parse_head(xdm_mail()))


def test_a_correspondent_s_body_is_read_only_when_announced() -> None:
    config = offline_config()
    mail, verdict = read_and_triage(xdm_mail(), config, None)
    assert verdict.outcome == "document" and verdict.member is None and mail.attachments
    # Not announced: quarantined as before, its body never read.
    mail, verdict = read_and_triage(xdm_mail(subject="Lettre", headers=""), config, None)
    assert (verdict.outcome, verdict.code) == ("quarantined", "not-on-roster")
    assert mail.attachments == () and mail.text == ""
    assert mail.dedup_key.startswith("sha256:")
    mail, verdict = read_and_triage(xdm_mail(sender=HOSPITAL.replace(".test", ".example")),
                                    config, None)
    assert verdict.outcome == "quarantined" and mail.attachments == ()

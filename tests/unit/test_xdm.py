"""Reading an XDM archive: what is understood, and which patient it is about."""

from __future__ import annotations

from datetime import date

import pytest

from esp_coord.xdm import XdmError, read_xdm
from esp_coord.xdm.identity import name_key, plan_mismatches
from plans.model import Patient
from tests.support.xdm import Letter, cda_document, metadata_xml, xdm_archive


def test_a_discharge_letter_is_understood() -> None:
    found = read_xdm(xdm_archive(), accept_test_ins=True)
    assert found.error is None and found.identity is not None
    assert found.identity.ins == "279035121518989"
    assert found.identity.test
    traits = found.identity.traits
    assert (traits.birth_name, traits.first_given, traits.birth_date, traits.sex) == (
        "PAT-TROIS", "DOMINIQUE", date(1979, 3, 28), "F")
    assert found.type_code is not None and found.type_code.code == "11490-0"
    assert found.is_discharge
    assert found.title == "Lettre de liaison à la sortie de l'établissement de santé"
    assert found.day == date(2026, 12, 3)
    assert found.author == "Charles DAVID"
    assert found.institution == "Hôpital Européen Georges Pompidou"
    assert found.cda.doc_id == "1.2.250.1.213.1.1.1.29.1^LDL-0001"
    assert found.cda.set_id == "8FA485AB-C5FF-4313-9B3F-4E8FB541F5C5"
    assert found.cda.version == 1 and found.replaces == ""
    assert found.entry.uri == "DOC0001.XML" and found.entry.mime_type == "text/xml"


def test_a_production_ins_needs_no_test_setup() -> None:
    letter = Letter(ins_oid="1.2.250.1.213.1.4.8")
    found = read_xdm(xdm_archive(letter))
    assert found.identity is not None and not found.identity.test


def test_a_replacement_names_the_version_it_replaces() -> None:
    letter = Letter(doc_ext="LDL-0002", version=2, replaces="1.2.250.1.213.1.1.1.29.1^LDL-0001")
    found = read_xdm(xdm_archive(letter), accept_test_ins=True)
    assert found.replaces == "1.2.250.1.213.1.1.1.29.1^LDL-0001"
    assert found.cda.version == 2
    assert found.replaced_entry.startswith("urn:uuid:")


def test_other_documents_are_not_discharge_letters() -> None:
    letter = Letter(code="11502-2", code_display="CR d'examens biologiques",
                    title="Compte rendu de biologie")
    found = read_xdm(xdm_archive(letter), accept_test_ins=True)
    assert not found.is_discharge and found.identity is not None


@pytest.mark.parametrize(("letter", "code"), [
    # 903: no INS at all, or only a test INS in production.
    (Letter(cda_has_ins=False), 903),
    # 904: the two INS differ; the traits of the two differ; a bad key; the
    # INS says a man; the INS says another year of birth.
    (Letter(meta_ins="185061545813600"), 904),
    (Letter(meta_birth="19790329"), 904),
    (Letter(ins="279035121518988"), 904),
    (Letter(sex="M"), 904),
    (Letter(birth="19800328"), 904),
    # 905: the INS without all its traits.
    (Letter(birth_name="", used_name="", meta_traits=False), 905),
    (Letter(first_given="", given_names="", meta_traits=False), 905),
    (Letter(birth="", meta_traits=False), 905),
    (Letter(sex="U", meta_traits=False), 905),
])
def test_a_patient_not_established_carries_the_ans_code(letter: Letter, code: int) -> None:
    found = read_xdm(xdm_archive(letter), accept_test_ins=True)
    assert found.identity is None
    assert found.error is not None and found.error.code == code
    # The reason never quotes a value of the document.
    assert "279035" not in found.error.reason and "PAT" not in found.error.reason


def test_a_test_identity_is_refused_in_production() -> None:
    found = read_xdm(xdm_archive())
    assert found.error is not None and found.error.code == 903
    assert found.summary()["patient"]["ins"] is None


def test_metadata_without_traits_is_enough_when_the_cda_has_them() -> None:
    found = read_xdm(xdm_archive(Letter(meta_traits=False)), accept_test_ins=True)
    assert found.error is None


@pytest.mark.parametrize("metadata", [
    b"<notxml",
    b"<?xml version='1.0'?><lcm:SubmitObjectsRequest xmlns:lcm='urn:x'/>",
])
def test_unusable_metadata_is_an_other_error(metadata: bytes) -> None:
    with pytest.raises(XdmError) as refused:
        read_xdm(xdm_archive(metadata=metadata), accept_test_ins=True)
    assert refused.value.code == 906


def test_a_document_that_is_not_cda_is_an_other_error() -> None:
    with pytest.raises(XdmError) as refused:
        read_xdm(xdm_archive(cda=b"<html><body>lettre</body></html>"), accept_test_ins=True)
    assert refused.value.code == 906 and "CDA" in refused.value.reason


def test_a_missing_document_is_an_other_error() -> None:
    metadata = metadata_xml(Letter()).replace(b"DOC0001.XML", b"DOC0009.XML")
    with pytest.raises(XdmError) as refused:
        read_xdm(xdm_archive(metadata=metadata), accept_test_ins=True)
    assert refused.value.code == 906


def test_only_the_header_is_parsed() -> None:
    # A body that is not even well-formed is never reached.
    cda = cda_document(Letter()).replace(b"<structuredBody>", b"<structuredBody><<<&&&", 1)
    assert read_xdm(xdm_archive(cda=cda), accept_test_ins=True).identity is not None


def test_the_summary_is_json_safe() -> None:
    import json

    summary = read_xdm(xdm_archive(), accept_test_ins=True).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["patient"]["birth_date"] == "1979-03-28"


def test_names_compare_without_case_accents_or_hyphens() -> None:
    assert name_key("Pat-Trois") == name_key("PAT TROIS") == "pat trois"
    assert name_key("Hélène") == name_key("HELENE")


def _patient(**changes: object) -> Patient:
    base = {"family_name": "PAT-TROIS", "given_name": "Dominique",
            "birth_date": date(1979, 3, 28), "sex": "F", "ins": "279035121518989"}
    base.update(changes)
    return Patient(**base)  # type: ignore[arg-type]


def test_the_plan_is_compared_on_each_trait() -> None:
    identity = read_xdm(xdm_archive(), accept_test_ins=True).identity
    assert identity is not None
    assert plan_mismatches(identity, _patient()) == []
    # The plan may be written under the name in use.
    used = read_xdm(xdm_archive(Letter(used_name="MARTIN")), accept_test_ins=True).identity
    assert used is not None and plan_mismatches(used, _patient(family_name="Martin")) == []
    assert plan_mismatches(identity, _patient(family_name="DUPONT")) == ["nom de naissance"]
    assert plan_mismatches(identity, _patient(given_name="Marie")) == ["premier prénom"]
    assert plan_mismatches(identity, _patient(birth_date=date(1979, 3, 29))) == [
        "date de naissance"]
    assert plan_mismatches(identity, _patient(sex="M")) == ["sexe"]

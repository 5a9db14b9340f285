"""Whatever an XDM archive holds, reading it costs time and memory linear in
its size (``esp_coord.xdm.read_xdm``, run by the service on every archive a
correspondent sends): the resource property of the hostile mail issue, for
archives.

Hypothesis picks a fragment (XML elements, attributes, entity-like text,
comments, CDATA, identifiers, slots, deep-looking but balanced nesting, plain
padding) and where it grows: inside METADATA.XML's document entry, inside the
CDA header's patient role, in the CDA body (never parsed, only inflated), or
as the README.TXT of the archive. ``tests.cost.assert_linear`` grows it
eightfold, up to about 1 MB (the limit of METADATA.XML), whether the archive
is then understood or refused; the same for the whole mail that carries it
(deciding it from its header block, reading its MIME structure, decoding the
attachment, reading the archive).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.config import DocumentSettings
from esp_coord.intake import attachment
from esp_coord.triage import read_and_triage
from esp_coord.xdm import XdmError, read_xdm
from tests.cost import assert_linear
from tests.support.config import offline_config
from tests.support.xdm import Letter, cda_document, metadata_xml, xdm_archive, xdm_mail

CONFIG = offline_config(documents=DocumentSettings(accept_test_ins=True))

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 200 if LONG else 8
LARGEST = 2**20 - 64 * 1024

_PIECES = st.sampled_from([
    '<rim:Slot name="x"><rim:ValueList><rim:Value>PID-5|A^B^^^^^L</rim:Value>'
    "</rim:ValueList></rim:Slot>",
    '<id root="1.2.250.1.213.1.4.10" extension="279035121518989"/>',
    "<x a='1' b='2' c='3' d='4'/>",
    "&amp;&lt;&gt;&quot;&#233;&#x20AC;",
    "<!-- commentaire -->",
    "<![CDATA[ <<<>>> ]]>",
    "<a><b><c><d></d></c></b></a>",
    "<?pi data?>",
    "texte accentué é ",
    "<given qualifier='BR'>DOMINIQUE</given>",
])
FRAGMENTS = st.lists(_PIECES, min_size=1, max_size=4).map("".join)
PLACES = st.sampled_from(["metadata", "cda-header", "cda-body", "readme"])


def _archive(place: str, fragment: str, n: int) -> bytes:
    grown = (fragment * n).encode()
    letter = Letter()
    if place == "metadata":
        metadata = metadata_xml(letter).replace(
            b"</rim:ExtrinsicObject>", grown + b"</rim:ExtrinsicObject>", 1)
        return xdm_archive(letter, metadata=metadata)
    if place == "cda-header":
        cda = cda_document(letter).replace(b"<patientRole>", b"<patientRole>" + grown, 1)
        return xdm_archive(letter, cda=cda)
    if place == "cda-body":
        cda = cda_document(letter).replace(b"<structuredBody>", b"<structuredBody>" + grown, 1)
        return xdm_archive(letter, cda=cda)
    return xdm_archive(letter.but(extra_entries={"README2.TXT": grown}))


def _read(data: bytes) -> object:
    try:
        return read_xdm(data, accept_test_ins=True)
    except XdmError as e:
        return e


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow])
@given(fragment=FRAGMENTS, place=PLACES)
def test_reading_an_archive_is_linear_in_what_it_holds(fragment: str, place: str) -> None:
    unit = max(1, len(fragment.encode()))
    start = max(1, 2**16 // (8 * unit))
    assert_linear(_read, lambda n: _archive(place, fragment, n), start,
                  max_n=max(start * 8, LARGEST // unit))


def _understand(raw: bytes) -> object:
    """What the processor does with a correspondent's document mail before
    any database work: decide from the header block, read the MIME structure,
    decode the archive, read it."""
    mail, verdict = read_and_triage(raw, CONFIG, None)
    assert verdict.outcome == "document"
    data = attachment(raw, "IHE_XDM.ZIP", max_bytes=CONFIG.limits.max_attachment_bytes)
    return _read(data) if data is not None else None


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow])
@given(fragment=FRAGMENTS, place=PLACES)
def test_understanding_a_document_mail_is_linear(fragment: str, place: str) -> None:
    unit = max(1, len(fragment.encode()))
    start = max(1, 2**16 // (8 * unit))
    assert_linear(_understand, lambda n: xdm_mail(archive=_archive(place, fragment, n)), start,
                  max_n=max(start * 8, LARGEST // unit))


def test_a_megabyte_of_the_worst_nesting_is_refused_cheaply() -> None:
    # Unbalanced nesting at every depth: refused at the depth limit.
    metadata = b"<a>" * (2**20 // 3 - 16)
    found = _read(xdm_archive(metadata=metadata))
    assert isinstance(found, XdmError) and found.code == 906

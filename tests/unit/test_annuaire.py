"""Reading the Annuaire Santé's MSSanté extraction, choosing the team's addresses."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.annuaire import (
    HEADER,
    Extraction,
    ExtractionError,
    Mailbox,
    ReadStats,
    roster_profession,
    rpps_of,
)
from esp_coord.annuaire_match import MAX_PER_KEY, NameQuery, check, find, people, propose
from esp_coord.config import Member
from plans.people import profession_of
from tests.cost import peak_bytes
from tests.support.annuaire import (
    HUGO,
    MARC,
    POSTCODE,
    Row,
    example_rows,
    extraction,
    rpps,
    zipped,
)

CLAIRE = "10008456237"


def read(data: bytes, **kwargs: int) -> tuple[list[Mailbox], ReadStats]:
    with Extraction(io.BytesIO(data), **kwargs) as boxes:
        return list(boxes), boxes.stats


def example() -> list[Mailbox]:
    return read(zipped(extraction(example_rows())))[0]


def test_the_header_has_the_31_documented_columns() -> None:
    assert len(HEADER) == len(set(HEADER)) == 31
    assert HEADER[:2] == ("Type de BAL", "Adresse BAL")
    assert extraction([]).decode() == "|".join(HEADER) + "\n"


def test_zip_and_text_read_alike_and_malformed_lines_are_counted() -> None:
    text = extraction(example_rows())
    boxes, stats = read(zipped(text))
    assert (boxes, stats) == read(text)
    assert stats.lines == len(example_rows()) == len(boxes) + stats.skipped
    assert (stats.wrong_columns, stats.bad_encoding, stats.too_long) == (1, 1, 0)
    assert stats.header_exact
    julien = next(b for b in boxes if b.last_name == "MARIE")
    assert (julien.kind, julien.address, julien.rpps, julien.name, julien.profession,
            julien.postcode) == ("PER", "julien.marie@infirmier.mssante.test", "10005622146",
                                 "Julien MARIE", "infirmier", POSTCODE)


def test_crlf_a_byte_order_mark_and_a_renamed_column_are_tolerated() -> None:
    header = ["\ufeff" + HEADER[0], *HEADER[1:]]
    header[HEADER.index("Code Profession")] = "Code profession"
    header[HEADER.index("Département structure BAL")] = "Departement structure BAL"
    boxes, stats = read(extraction(example_rows(), header=header, newline=b"\r\n"))
    assert not stats.header_exact and stats.skipped == 2
    assert [b.address for b in boxes] == [b.address for b in example()]


@pytest.mark.parametrize(("data", "why"), [
    (b"", "no header"),
    (b"Type d'identifiant PP|Identifiant PP|Nom d'exercice\n", "no column"),
    (zipped(b"") + b"", "no header"),
    (zipped(extraction([]))[:40], "not a readable ZIP"),
])
def test_what_is_not_an_extraction_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(ExtractionError, match=why):
        read(data)


def test_an_archive_of_two_files_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", extraction([]))
        archive.writestr("b.txt", extraction([]))
    with pytest.raises(ExtractionError, match="holds 2"):
        read(out.getvalue())


def test_a_damaged_archive_is_an_error_not_a_crash() -> None:
    data = bytearray(zipped(extraction(example_rows() * 50)))
    data[200:220] = b"\x00" * 20  # inside the deflated member
    with pytest.raises(ExtractionError):
        read(bytes(data))


def test_an_archive_declaring_an_absurd_size_is_refused_before_inflating() -> None:
    data = bytearray(zipped(extraction([])))
    # The uncompressed size in the central directory entry: about 4 GB
    # (0xffffffff would mean "see the ZIP64 extra field").
    entry = data.rindex(b"PK\x01\x02")
    data[entry + 24:entry + 28] = (0xFEFFFFFF).to_bytes(4, "little")
    with pytest.raises(ExtractionError, match="once inflated"):
        read(bytes(data))


def test_an_over_long_line_is_skipped_without_being_held() -> None:
    huge = "PER|" + "x" * 20_000_000 + "@a.mssante.test"
    data = zipped(extraction([*example_rows()[:3], huge, *example_rows()[3:]]))
    boxes, stats = read(data)
    assert stats.too_long == 1 and len(boxes) == len(example())
    # 20 MB of line, never more than a few of the reader's buffers at a time.
    assert peak_bytes(lambda d: read(d), data) < 1_000_000
    boxes, stats = read(extraction([Row("a@b.mssante.test", last_name="A" * 2000)]),
                        max_line_bytes=1024)  # the header is about 700 bytes
    assert (boxes, stats.too_long) == ([], 1)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=1500),
    st.lists(st.text(max_size=40), min_size=31, max_size=31).map("|".join),
    st.builds(lambda r: r.line(), st.builds(Row, address=st.emails(), kind=st.text(max_size=3),
                                           rpps=st.text("0123456789", max_size=12),
                                           last_name=st.text(max_size=20))),
).map(lambda b: (b if isinstance(b, bytes) else b.encode()).replace(b"\n", b"")), max_size=30))
def test_any_lines_are_read_or_counted_never_a_crash(lines: list[bytes]) -> None:
    boxes, stats = read(extraction(lines), max_line_bytes=1024)
    assert stats.lines == len(lines) == len(boxes) + stats.skipped


def test_the_rpps_comes_from_either_identifier_column() -> None:
    assert rpps_of("8", "10008456237", "810008456237") == CLAIRE
    assert rpps_of("", "", "810008456237") == CLAIRE
    assert rpps_of("8", "10008456237", "") == CLAIRE
    assert rpps_of("8", "810008456237", "") == CLAIRE
    assert rpps_of("0", "123456789", "0123456789") is None  # an ADELI number
    assert rpps_of("", "", "") is None


@pytest.mark.parametrize(("code", "label", "profession"), [
    ("10", "Médecin", "medecin"),
    ("21", "Pharmacien", "pharmacien"),
    ("50", "Sage-Femme", "sage-femme"),
    ("60", "Infirmier", "infirmier"),
    ("70", "Masseur-Kinésithérapeute", "masseur-kinesitherapeute"),
    ("80", "Pédicure-Podologue", "podologue"),
    ("91", "Orthophoniste", "orthophoniste"),
    ("95", "Diététicien", "dieteticien"),
    ("G15_10", "", "medecin"),
    ("40", "Chirurgien-Dentiste", None),  # no such profession in the roster
    ("96", "Psychomotricien", None),
    ("10", "Infirmier", None),  # the code and its label disagree
    ("", "", None),
])
def test_professions_map_to_the_roster_or_to_nothing(code: str, label: str,
                                                     profession: str | None) -> None:
    assert roster_profession(code, label) == profession


def test_every_mapped_profession_is_one_the_roster_knows() -> None:
    codes = ["10", "21", "50", "60", "69", "70", "80", "91", "92", "93", "94", "95"]
    for code in codes:
        value = roster_profession(code)
        assert value is not None and profession_of(value) == value, code


def test_by_rpps_a_person_with_two_addresses_gets_one_proposed_with_its_reason() -> None:
    found = find(example(), rpps=[CLAIRE, "10012733985", rpps("1000000000")])
    assert len(found.by_rpps[CLAIRE]) == 3 and found.by_rpps[rpps("1000000000")] == []
    first = propose(found.by_rpps[CLAIRE])
    assert [b.address for b in first.personal] == ["claire.durand@chu-lyon.mssante.test",
                                                   "claire.durand@medecin.mssante.test"]
    assert first.chosen is first.personal[0] and "first listed" in first.reason
    near = propose(found.by_rpps[CLAIRE], area={POSTCODE})
    assert near.chosen is near.personal[1] and "where the rest of the team works" in near.reason
    here = propose(found.by_rpps[CLAIRE], postcode="69")
    assert here.chosen is here.personal[0] and "postcode 69" in here.reason
    assert (near.name, near.profession, near.rpps) == ("Claire DURAND", "medecin", CLAIRE)
    bare = Row("claire@cabinet.mssante.test", rpps=CLAIRE, last_name="DURAND",
               first_name="CLAIRE", postcode="42110")  # no profession on this line
    chosen_bare = propose([*read(extraction([bare]))[0], *found.by_rpps[CLAIRE]],
                          postcode="42110")
    assert chosen_bare.chosen is not None and chosen_bare.chosen.profession_code == ""
    assert chosen_bare.profession == "medecin"
    paul = propose(found.by_rpps["10012733985"])
    assert paul.reason == "" and paul.chosen is not None and len(paul.personal) == 1


def test_by_name_and_postcode_ignoring_case_and_accents() -> None:
    boxes = example()
    found = find(boxes, names=[NameQuery("durand", POSTCODE), NameQuery("DURAND", "42"),
                               NameQuery("Claire Durand", "69003"), NameQuery("DURAND", "75")])
    by = {(q.name, q.postcode): people(v) for q, v in found.by_name.items()}
    assert [g[0].rpps for g in by[("durand", POSTCODE)]] == [CLAIRE]
    assert [g[0].rpps for g in by[("DURAND", "42")]] == [CLAIRE, MARC]
    assert [g[0].address for g in by[("Claire Durand", "69003")]] == [
        "claire.durand@chu-lyon.mssante.test"]
    assert by[("DURAND", "75")] == []


def test_only_personal_mailboxes_are_proposed() -> None:
    org = next(b for b in example() if b.kind == "ORG")
    assert propose([org]).chosen is None
    listed = Mailbox(kind="ORG", address="accueil@msp.mssante.test", rpps=CLAIRE,
                     last_name="DURAND", first_name="CLAIRE", profession_code="10",
                     profession_label="Médecin", specialty="", organisation="MSP",
                     postcode=POSTCODE, city="FEURS")
    claire = [*find(example(), rpps=[CLAIRE]).by_rpps[CLAIRE], listed]
    proposal = propose(claire)
    assert listed not in proposal.personal and proposal.other == (listed,)
    assert propose([listed]).chosen is None


def test_a_profession_the_roster_has_no_word_for_is_not_guessed() -> None:
    hugo = propose(find(example(), rpps=[HUGO]).by_rpps[HUGO])
    assert hugo.chosen is not None and hugo.profession is None
    assert (hugo.profession_code, hugo.profession_label) == ("40", "Chirurgien-Dentiste")


def test_one_person_repeated_on_every_line_is_capped() -> None:
    rows = [Row(f"p{i}@x.mssante.test", rpps=CLAIRE, last_name="DURAND") for i in range(200)]
    found = find(read(extraction(rows))[0], rpps=[CLAIRE])
    assert (len(found.by_rpps[CLAIRE]), found.dropped) == (MAX_PER_KEY, 200 - MAX_PER_KEY)


def _member(email: str, number: str | None = None) -> Member:
    return Member(name="X", email=email, profession="medecin", rpps=number)


def test_check_tells_what_is_gone_what_changed_and_what_belongs_to_someone_else() -> None:
    members = [
        _member("claire.durand@medecin.mssante.test", CLAIRE),
        _member("ana.costa@esp-valdelorge.mssante.test"),
        _member("paul.old@medecin.mssante.test", "10012733985"),
        _member("gone@nowhere.mssante.test"),
        _member("secretariat@msp-valdelorge.mssante.test", "10003312872"),
        _member("karim.benali@mk.mssante.test", "10005622146"),
    ]
    findings = check(example(), members)
    assert [(f.status, f.now, f.holder) for f in findings] == [
        ("ok", ("claire.durand@chu-lyon.mssante.test", "claire.durand@medecin.mssante.test"),
         None),
        ("ok", (), None),
        ("missing", ("paul.girard@medecin.mssante.test",), None),
        ("missing", (), None),
        ("moved", ("karim.benali@mk.mssante.test",), None),
        ("other_person", ("julien.marie@infirmier.mssante.test",), "10003312872"),
    ]

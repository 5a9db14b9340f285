"""The extraction is read in constant memory and linear time.

The real file has about 535,000 lines: reading it must cost the same memory
at 2,000 lines as at 50,000 (a list of the lines, or of the mailboxes, would
grow 25 times), and its CPU time must grow with the number of lines, not
faster. Allocation peaks (tracemalloc) and CPU ratios only, no wall clock.
"""

from __future__ import annotations

import io

from esp_coord.annuaire import Extraction
from esp_coord.annuaire_match import NameQuery, check, find
from esp_coord.config import Member
from tests.cost import assert_linear, peak_bytes
from tests.support.annuaire import Row, extraction, rpps, zipped

CLAIRE = "10008456237"


def _rows(n: int) -> list[Row | str | bytes]:
    rows: list[Row | str | bytes] = []
    for i in range(n):
        rows.append(Row(f"prenom.nom{i}@medecin.mssante.test", rpps=rpps(f"{1_000_000_000 + i}"),
                        last_name=f"NOM{i}", first_name="PRENOM", profession_code="10",
                        profession_label="Médecin", organisation=f"CABINET {i}",
                        postcode=f"{10000 + i % 80000:05d}", city="VILLE"))
        if i % 1000 == 0:
            rows.append("PER|malformed@x.mssante.test|too few columns")
    rows.append(Row("claire.durand@medecin.mssante.test", rpps=CLAIRE, last_name="DURAND",
                    first_name="CLAIRE", postcode="42110"))
    return rows


def make(n: int) -> bytes:
    return zipped(extraction(_rows(n)))


def select(data: bytes) -> None:
    with Extraction(io.BytesIO(data)) as boxes:
        found = find(boxes, rpps=[CLAIRE], names=[NameQuery("DURAND", "42110")])
    assert len(found.by_rpps[CLAIRE]) == 1


def import_and_check(data: bytes) -> None:
    select(data)
    member = Member(name="Claire DURAND", email="claire.durand@medecin.mssante.test",
                    profession="medecin", rpps=CLAIRE)
    with Extraction(io.BytesIO(data)) as boxes:
        assert [f.status for f in check(boxes, [member])] == ["ok"]


def test_peak_memory_does_not_grow_with_the_number_of_lines() -> None:
    small, large = make(2_000), make(50_000)
    select(large)  # first call: imports and caches are not the parser's
    peak_small, peak_large = peak_bytes(select, small), peak_bytes(select, large)
    # The ZIP reader's buffers, the reader's 64 KiB and one line, nothing per
    # line: 25 times the lines, the same peak but for the decompressor's
    # buffers, which a 40 kB archive does not fill (plain text: 13 kB both).
    assert peak_large < peak_small + 128 * 1024, (peak_small, peak_large)
    assert peak_large < 1_000_000, peak_large
    # The text file alone: no decompressor, nothing but a line and the reader.
    text_small, text_large = extraction(_rows(2_000)), extraction(_rows(20_000))
    peaks = peak_bytes(select, text_small), peak_bytes(select, text_large)
    assert peaks[1] < peaks[0] + 16 * 1024 and peaks[1] < 100_000, peaks


def test_cpu_time_grows_linearly_with_the_number_of_lines() -> None:
    # Memory is checked above, more strictly than a linear bound would.
    assert_linear(import_and_check, make, 1_000, factor=8, memory=False, max_n=64_000)

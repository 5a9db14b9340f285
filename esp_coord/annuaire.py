"""The Annuaire Santé's list of MSSanté mailboxes, read as a stream.

The ANS publishes every day, freely, the extraction of all MSSanté addresses
(``Extraction_Correspondance_MSSante``): a ZIP of one UTF-8 text file,
``|``-separated, one header line, 31 columns, about 535,000 lines (90 MB).
Where to get it: https://service.annuaire.sante.fr/annuaire-sante-webservices/V300/services/extraction/Extraction_Correspondance_MSSante
(the ZIP) or data.gouv.fr, dataset ``annuaire-sante-extraction-des-bal-mssante``
(the text file alone).

No ANS specification of the columns was found; ``HEADER`` is the header as
programs that read the real file by its column names spell it:

- all 31 names, in order: https://github.com/chaibax/monitoring-publication-bal-mss/blob/e310da8c494f67899a71639e41df60d854570b00/tests/fixtures.py
  (a test factory "au format réel de l'ANS"; its docs/00-sources.md lists the
  same columns, measured on the files of June and August 2026);
- 15 of them, read with ``csv.DictReader`` from the downloaded file:
  https://github.com/cardio75/adressesmssante/blob/13178ceff0ac00afb71293991c791a305eef4f86/creer_bd_mssante.py
- 24 of them, read by name from data.gouv.fr's tabular API:
  https://github.com/QrCommunication/rppsapi-js/blob/7455c9d92cf5f8ced4969b2c4536a5c8c7f0160d/src/sources/mssante.ts
- the same order under snake-case names:
  https://github.com/flrt/ref-rpps-ne/blob/4902fe3350053c635eb1670e7689379ae15cb436/practitioner.py

Columns are found by name, compared without case and accents, so that a
rename such as « Code profession » for « Code Profession » does not make the
file unreadable; a header that lacks a column we need is refused.

« Type de BAL » is PER (personal), ORG (organisation), APP (applicative) or
CAB (practice) in the ANS's value set JDV_J139-TypeBAL-RASS; the extractions
measured in 2026 held PER and ORG only. Only PER boxes are people's own.

The RPPS: « Identifiant PP » holds the 11-digit RPPS (rppsapi-js filters on
it), « Identification nationale PP » the national id, ``8`` + RPPS (``0`` +
ADELI for the older ADELI numbers), as in FR Core's IDNPS.

Everything here reads a stream it is given, line by line, in constant memory:
a line is at most ``MAX_LINE_BYTES`` (the real ones are about 170 bytes); a
longer one is skipped without being held, and counted, like a line with the
wrong number of columns or one that is not UTF-8.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, cast

from plans.normalize import fold
from plans.people import profession_of

__all__ = [
    "HEADER",
    "MAX_LINE_BYTES",
    "MAX_TEXT_BYTES",
    "Extraction",
    "ExtractionError",
    "Mailbox",
    "ReadStats",
    "roster_profession",
    "rpps_of",
]

HEADER: tuple[str, ...] = (
    "Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP",
    "Identification nationale PP", "Type identifiant structure", "Identification Structure",
    "Service de rattachement", "Civilité d'exercice", "Nom d'exercice", "Prénom d'exercice",
    "Catégorie profession", "Libellé de catégorie profession", "Code Profession",
    "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL", "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL", "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL", "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL", "Département structure BAL", "Pays structure BAL",
)

# What a Mailbox is made of: its field, the column it comes from.
_COLUMNS = {
    "kind": "Type de BAL",
    "address": "Adresse BAL",
    "id_type": "Type Identifiant PP",
    "id_pp": "Identifiant PP",
    "national_id": "Identification nationale PP",
    "last_name": "Nom d'exercice",
    "first_name": "Prénom d'exercice",
    "profession_code": "Code Profession",
    "profession_label": "Libellé Profession",
    "specialty": "Libellé savoir-faire",
    "organisation": "Raison Sociale structure BAL",
    "city": "L6LIGNEACHEMINEMENT structure BAL",
    "postcode": "Code postal structure BAL",
}

MAX_LINE_BYTES = 16 * 1024
# The real text is 90 MB. A ZIP member declaring more is refused before it is
# inflated: 20 MB of archive could otherwise mean hours of decompression.
MAX_TEXT_BYTES = 2 * 1024**3
_ZIP_MAGIC = b"PK\x03\x04"

# Code Profession (nomenclature TRE_G15-ProfessionSante, 93 from
# TRE_R95-UsagerTitre) -> the roster's profession (plans/people.py). Codes
# the roster has no word for (40 chirurgien-dentiste, 96 psychomotricien...)
# are left out on purpose: they are reported, never mapped to a neighbour.
_PROFESSIONS = {
    "10": "medecin",
    "21": "pharmacien",
    "50": "sage-femme",
    "60": "infirmier",
    "69": "infirmier",  # infirmier psychiatrique
    "70": "masseur-kinesitherapeute",
    "80": "podologue",
    "91": "orthophoniste",
    "92": "orthoptiste",
    "93": "psychologue",
    "94": "ergotherapeute",
    "95": "dieteticien",
}


class ExtractionError(ValueError):
    """The file is not a usable extraction (not a ZIP of one text file, not
    the expected header, a damaged archive). The message names what is wrong."""


def roster_profession(code: str, label: str = "") -> str | None:
    """The roster's profession for a Code/Libellé Profession, None when the
    roster has no word for it or the label says another profession."""
    found = _PROFESSIONS.get(code.strip().removeprefix("G15_"))
    if found is None:
        return None
    said = profession_of(label) if label.strip() else None
    # A code contradicted by its own label is a damaged line: guess neither.
    return found if said in (None, found) else None


def rpps_of(id_type: str, id_pp: str, national_id: str) -> str | None:
    """The 11-digit RPPS of a line, None for an ADELI number (type 0) or no id.
    Either column may hold it, bare or as the national id ``8`` + RPPS."""
    if id_type.strip() not in ("8", ""):
        return None
    for value in (id_pp, national_id):
        if len(value) == 12 and value.startswith("8"):
            value = value[1:]
        if len(value) == 11 and value.isdigit():
            return value
    return None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One line of the extraction: a mailbox and whom it belongs to."""

    kind: str  # PER personal, ORG organisation, APP applicative (CAB practice)
    address: str  # lower-cased
    rpps: str | None
    last_name: str
    first_name: str
    profession_code: str
    profession_label: str
    specialty: str
    organisation: str
    postcode: str
    city: str

    @property
    def personal(self) -> bool:
        return self.kind == "PER"

    @property
    def name(self) -> str:
        """« Prénom NOM », as the roster writes names."""
        first = self.first_name.title() if self.first_name.isupper() else self.first_name
        return " ".join(part for part in (first, self.last_name.upper()) if part)

    @property
    def profession(self) -> str | None:
        return roster_profession(self.profession_code, self.profession_label)


@dataclass
class ReadStats:
    """What reading the file met, for the operator's summary."""

    lines: int = 0  # data lines, the header excluded
    wrong_columns: int = 0
    bad_encoding: int = 0
    too_long: int = 0
    no_address: int = 0
    header_exact: bool = True  # False: columns found by name in a header that differs

    @property
    def skipped(self) -> int:
        return self.wrong_columns + self.bad_encoding + self.too_long + self.no_address


class Extraction:
    """``with Extraction(stream) as boxes: for box in boxes: ...``

    ``stream`` is a seekable binary stream (an open file, a ``BytesIO``)
    holding the ZIP or the text file. Iterating reads it once; ``stats``
    counts what was skipped so far."""

    def __init__(self, stream: IO[bytes], *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.stats = ReadStats()
        self._limit = max_line_bytes
        self._archive: zipfile.ZipFile | None = None
        self._text = self._open(stream)

    def _open(self, stream: IO[bytes]) -> IO[bytes]:
        head = stream.read(len(_ZIP_MAGIC))
        stream.seek(0)
        if head != _ZIP_MAGIC:
            return stream
        try:
            self._archive = zipfile.ZipFile(stream)
            members = [m for m in self._archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise ExtractionError(f"the archive should hold one text file, it holds "
                                      f"{len(members)}")
            if members[0].file_size > MAX_TEXT_BYTES:
                raise ExtractionError(f"the archive's file would be {members[0].file_size:,} "
                                      f"bytes once inflated (the real one is about 90 MB)")
            # zipfile's own readline goes through Python for every chunk it
            # peeks: buffered, reading the file costs a sixth of the time.
            member = cast(io.RawIOBase, self._archive.open(members[0]))
            return io.BufferedReader(member, buffer_size=64 * 1024)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
                RuntimeError) as e:  # RuntimeError: an encrypted member
            self.close()
            raise ExtractionError(f"not a readable ZIP archive ({e})") from None
        except ExtractionError:
            self.close()
            raise

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    def __enter__(self) -> Extraction:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _lines(self) -> Iterator[str | None]:
        """Each line without its end, None for one skipped (counted)."""
        limit = self._limit
        read = self._text.readline
        try:
            while line := read(limit):
                if len(line) == limit and not line.endswith(b"\n"):
                    # Over-long: drop it piece by piece, never whole.
                    while (rest := read(limit)) and not rest.endswith(b"\n"):
                        pass
                    self.stats.too_long += 1
                    yield None
                    continue
                try:
                    yield line.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    self.stats.bad_encoding += 1
                    yield None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ExtractionError(f"could not be read to its end ({e})") from None

    def __iter__(self) -> Iterator[Mailbox]:
        lines = self._lines()
        first = next(lines, None)
        if first is None:
            raise ExtractionError("no header line (empty file, or not UTF-8 text)")
        index = self._columns(first.removeprefix("\ufeff").split("|"))
        width = len(first.split("|"))
        stats = self.stats
        for text in lines:
            stats.lines += 1
            if text is None:
                continue
            fields = text.split("|")
            if len(fields) != width:
                stats.wrong_columns += 1
                continue
            values = {name: fields[i].strip() for name, i in index.items()}
            if "@" not in values["address"]:
                stats.no_address += 1
                continue
            yield Mailbox(
                kind=values["kind"].upper(), address=values["address"].lower(),
                rpps=rpps_of(values["id_type"], values["id_pp"], values["national_id"]),
                last_name=values["last_name"], first_name=values["first_name"],
                profession_code=values["profession_code"],
                profession_label=values["profession_label"], specialty=values["specialty"],
                organisation=values["organisation"], postcode=values["postcode"],
                city=values["city"])

    def _columns(self, names: list[str]) -> dict[str, int]:
        folded = {fold(n): i for i, n in reversed(list(enumerate(names)))}
        self.stats.header_exact = tuple(n.strip() for n in names) == HEADER
        missing = [c for c in _COLUMNS.values() if fold(c) not in folded]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:3])
            raise ExtractionError(f"not an Extraction_Correspondance_MSSante file: no column "
                                  f"{shown} in its header ({len(names)} columns)")
        return {field: folded[fold(column)] for field, column in _COLUMNS.items()}

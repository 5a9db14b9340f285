"""A small Extraction_Correspondance_MSSante in the real format, for tests.

The header is ``esp_coord.annuaire.HEADER`` (31 columns, ``|``); the ZIP holds
one deflated text file named like the ANS's. ``example_rows()`` is the example
team of config/esp.example.toml as the Annuaire Santé would list it, with the
cases the reader must handle: a person with two personal addresses (one of
them listed twice, once per structure), an organisation mailbox, a personal
mailbox without RPPS, a profession the roster has no word for, a homonym, a
line with the wrong number of columns and one that is not UTF-8.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stdnum import luhn

from esp_coord.annuaire import HEADER

__all__ = ["MEMBER", "POSTCODE", "Row", "example_rows", "extraction", "rpps", "write",
           "zipped"]

MEMBER = "Extraction_Correspondance_MSSante_202611230300.txt"
POSTCODE = "42110"  # where the example team works
MSP = "MSP DU VAL DE LORGE"


def rpps(stem: str) -> str:
    """An RPPS with its Luhn key, from its first ten digits."""
    return stem + luhn.calc_check_digit(stem)


@dataclass(frozen=True)
class Row:
    """One mailbox; the columns it leaves out are empty, as in the real file."""

    address: str
    kind: str = "PER"
    rpps: str = ""
    last_name: str = ""
    first_name: str = ""
    civility: str = ""
    profession_code: str = ""
    profession_label: str = ""
    specialty: str = ""
    organisation: str = ""
    city: str = ""
    postcode: str = ""

    def fields(self) -> list[str]:
        values = dict.fromkeys(HEADER, "")
        values.update({
            "Type de BAL": self.kind, "Adresse BAL": self.address,
            "Civilité d'exercice": self.civility, "Nom d'exercice": self.last_name,
            "Prénom d'exercice": self.first_name, "Code Profession": self.profession_code,
            "Libellé Profession": self.profession_label,
            "Libellé savoir-faire": self.specialty,
            "Raison Sociale structure BAL": self.organisation,
            "L6LIGNEACHEMINEMENT structure BAL": f"{self.postcode} {self.city}".strip(),
            "Code postal structure BAL": self.postcode,
            "Département structure BAL": self.postcode[:2],
            "Pays structure BAL": "FRANCE" if self.postcode else "",
        })
        if self.rpps:
            values.update({"Type Identifiant PP": "8", "Identifiant PP": self.rpps,
                           "Identification nationale PP": "8" + self.rpps})
        if self.profession_code:
            values.update({"Catégorie profession": "C",
                           "Libellé de catégorie profession": "Civil"})
        return list(values.values())

    def line(self) -> str:
        return "|".join(self.fields())


def extraction(rows: Iterable[Row | str | bytes], *, header: Sequence[str] = HEADER,
               newline: bytes = b"\n") -> bytes:
    """The text file: the header, then each row (a ``str`` is written as it
    is, a ``bytes`` too and not even encoded: malformed lines)."""
    out = io.BytesIO()
    out.write("|".join(header).encode("utf-8") + newline)
    for row in rows:
        data = row.line() if isinstance(row, Row) else row
        out.write((data.encode("utf-8") if isinstance(data, str) else data) + newline)
    return out.getvalue()


def zipped(text: bytes, *, name: str = MEMBER) -> bytes:
    """``text`` as the ANS serves it: a ZIP of one deflated file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text)
    return out.getvalue()


def write(folder: Path, rows: Iterable[Row | str | bytes], *, zip: bool = True) -> Path:
    """The extraction in ``folder``, zipped (``.zip``) or not (``.txt``)."""
    text = extraction(rows)
    if zip:
        path = folder / (MEMBER.removesuffix(".txt") + ".zip")
        path.write_bytes(zipped(text))
    else:
        path = folder / MEMBER
        path.write_bytes(text)
    return path


def _member(address: str, number: str, last: str, first: str, code: str, label: str,
            organisation: str = MSP, postcode: str = POSTCODE, city: str = "FEURS") -> Row:
    return Row(address=address, rpps=number, last_name=last, first_name=first,
               civility="DR" if code == "10" else "", profession_code=code,
               profession_label=label, organisation=organisation, postcode=postcode,
               city=city)


HUGO = rpps("1009876543")  # a dentist: a profession the roster has no word for
MARC = rpps("1001357924")  # Claire DURAND's homonym, in another town of the department


def example_rows() -> list[Row | str | bytes]:
    durand = "claire.durand@medecin.mssante.test"
    return [
        # Listed first: the hospital where Claire DURAND also works, far away.
        _member("claire.durand@chu-lyon.mssante.test", "10008456237", "DURAND", "CLAIRE",
                "10", "Médecin", "CHU DE LYON", "69003", "LYON"),
        _member(durand, "10008456237", "DURAND", "CLAIRE", "10", "Médecin"),
        # The same address again, for a second structure it is attached to.
        _member(durand, "10008456237", "DURAND", "CLAIRE", "10", "Médecin",
                "CENTRE DE SANTE DE FEURS"),
        _member("paul.girard@medecin.mssante.test", "10012733985", "GIRARD", "PAUL", "10",
                "Médecin"),
        _member("julien.marie@infirmier.mssante.test", "10005622146", "MARIE", "JULIEN", "60",
                "Infirmier", "CABINET INFIRMIER DU VAL"),
        "PER|broken@infirmier.mssante.test|8|10000000000|too few columns",
        _member("sophie.leroy@pharmacien.mssante.test", "10019874527", "LEROY", "SOPHIE",
                "21", "Pharmacien", "PHARMACIE DE LA LORGE"),
        _member("karim.benali@mk.mssante.test", "10003312872", "BENALI", "KARIM", "70",
                "Masseur-Kinésithérapeute"),
        Row(address="helene.roux@medecin.mssante.test", last_name="ROUX",
            first_name="Hélène").line().encode("latin-1"),
        _member("lea.fontaine@dieteticien.mssante.test", "10014566789", "FONTAINE", "LEA",
                "95", "Diététicien"),
        # A personal mailbox not attached to a national id (the coordinator).
        Row(address="ana.costa@esp-valdelorge.mssante.test", last_name="COSTA",
            first_name="ANA", organisation="ESP DU VAL DE LORGE", postcode=POSTCODE,
            city="FEURS"),
        Row(address="secretariat@msp-valdelorge.mssante.test", kind="ORG", organisation=MSP,
            postcode=POSTCODE, city="FEURS"),
        _member("hugo.lambert@chirurgien-dentiste.mssante.test", HUGO, "LAMBERT", "HUGO",
                "40", "Chirurgien-Dentiste"),
        _member("marc.durand@infirmier.mssante.test", MARC, "DURAND", "MARC", "60",
                "Infirmier", "CABINET INFIRMIER", "42600", "MONTBRISON"),
    ]

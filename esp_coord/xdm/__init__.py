"""Documents from the trust space: an ``IHE_XDM.ZIP`` archive, understood.

``read_xdm(data, accept_test_ins=...)`` opens the archive (``archive``: zip
limits), reads its one ``IHE_XDM/<SUBSET>/METADATA.XML`` (``metadata``), the
header of each CDA document it lists (``cda``: the body is never read), and
resolves the patient (``identity``). Pure: bytes in, values out, no I/O, no
log; every step is bounded (see each module) and the whole costs at most
linear time in the archive and ``archive.MAX_TOTAL_BYTES`` of inflation.

An archive that cannot be read, or is hostile, raises ``XdmError`` with the
ANS code 906 (« Erreur 'Autre' »); one that is read but whose patient is not
established (903, 904, 905) is returned with ``error`` set, so that
``esp-coord parse`` can show what was understood and the service can still
name the document to the sender. ``XdmError.reason`` is English, for logs,
and never quotes the archive.

Which documents are discharge letters (``DISCHARGE_CODES``): the LOINC codes
of the ANS « Lettre de liaison à la sortie d'un établissement de soins »
(11490-0, ``LDL-SES``) and of the discharge summaries of LOINC (18842-5
Discharge summary, 34105-7 Hospital discharge summary, 28655-9 Physician
attending discharge summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .archive import ArchiveError, XdmArchive, open_archive
from .cda import CdaHeader, read_cda_header
from .identity import INS_MISMATCH, Identity, IdentityError, resolve_identity
from .metadata import parse_hl7_date, read_metadata
from .model import Code, DocumentEntry, Metadata, PatientId, Traits
from .xml import XmlError

__all__ = ["DISCHARGE_CODES", "OTHER_ERROR", "ArchiveError", "CdaHeader", "Code",
           "DocumentEntry", "Identity", "Metadata", "PatientId", "Traits", "XdmDocument",
           "XdmError", "read_xdm"]

OTHER_ERROR = 906
DISCHARGE_CODES = frozenset({"11490-0", "18842-5", "34105-7", "28655-9"})
MAX_CDA_DOCUMENTS = 8
# A CDA header fits in a few kilobytes; the body (which may embed a PDF) is
# not read, but the document is inflated whole: its entry limit applies.
_CDA_MIME = ("text/xml", "application/xml", "application/hl7-v3+xml")


class XdmError(ValueError):
    """The archive is refused: ``code`` the ANS code, ``reason`` why (English)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class XdmDocument:
    """What was understood of an archive. ``identity`` is None exactly when
    ``error`` says why the patient is not established."""

    metadata_path: str
    entry: DocumentEntry
    cda: CdaHeader
    identity: Identity | None
    error: XdmError | None
    replaced_entry: str = ""  # RPLC association of METADATA.XML
    documents: int = 1        # CDA documents in the archive

    @property
    def type_code(self) -> Code | None:
        return self.cda.code or self.entry.type_code

    @property
    def title(self) -> str:
        return self.cda.title or self.entry.title or (
            self.type_code.display if self.type_code else "")

    @property
    def day(self) -> date | None:
        """The document's date: its CDA effectiveTime, else its creationTime."""
        found = parse_hl7_date(self.cda.effective)
        if found is None and self.entry.creation_time is not None:
            found = self.entry.creation_time.date()
        return found

    @property
    def author(self) -> str:
        return self.cda.author or (self.entry.authors[0] if self.entry.authors else "")

    @property
    def institution(self) -> str:
        return self.cda.institution or (
            self.entry.institutions[0] if self.entry.institutions else "")

    @property
    def is_discharge(self) -> bool:
        return self.type_code is not None and self.type_code.code in DISCHARGE_CODES

    @property
    def replaces(self) -> str:
        """The id of the document this one replaces (CDA relatedDocument), if any."""
        return self.cda.replaces

    def summary(self) -> dict[str, Any]:
        """JSON-safe, for ``esp-coord parse`` (patient traits included: the
        operator asked for them; the service never logs this)."""
        traits = self.cda.traits
        code = self.type_code
        return {
            "metadata": self.metadata_path,
            "document_uri": self.entry.uri,
            "title": self.title,
            "type_code": code.code if code else None,
            "type_display": code.display if code else None,
            "discharge_letter": self.is_discharge,
            "date": self.day.isoformat() if self.day else None,
            "author": self.author or None,
            "institution": self.institution or None,
            "document_id": self.cda.doc_id or None,
            "set_id": self.cda.set_id or None,
            "version": self.cda.version,
            "replaces": self.replaces or None,
            "replaced_entry": self.replaced_entry or None,
            "cda_documents": self.documents,
            "patient": {
                "ins": self.identity.ins if self.identity else None,
                "ins_oid": self.identity.oid if self.identity else None,
                "birth_name": traits.birth_name or None,
                "used_name": traits.used_name or None,
                "first_given_name": traits.first_given or None,
                "birth_date": traits.birth_date.isoformat() if traits.birth_date else None,
                "sex": traits.sex or None,
            },
            "error_code": self.error.code if self.error else None,
            "error": self.error.reason if self.error else None,
        }


def _metadata_path(archive: XdmArchive) -> str:
    found = [name for name in archive.find("/METADATA.XML")
             if name.upper().startswith("IHE_XDM/") and name.count("/") == 2]
    if not found:
        raise XdmError(OTHER_ERROR, "no IHE_XDM/<subset>/METADATA.XML in the archive")
    if len(found) > 1:
        raise XdmError(OTHER_ERROR, "several submission sets in one archive")
    return found[0]


def _cda_entries(metadata: Metadata) -> list[DocumentEntry]:
    entries = [e for e in metadata.entries
               if e.mime_type in _CDA_MIME or e.uri.upper().endswith(".XML")]
    if not entries:
        raise XdmError(OTHER_ERROR, "no CDA document listed in METADATA.XML")
    if len(entries) > MAX_CDA_DOCUMENTS:
        raise XdmError(OTHER_ERROR, f"more than {MAX_CDA_DOCUMENTS} CDA documents")
    return entries


def _header(archive: XdmArchive, folder: str, entry: DocumentEntry) -> CdaHeader:
    if not entry.uri or "/" in entry.uri or "\\" in entry.uri or entry.uri in (".", ".."):
        raise XdmError(OTHER_ERROR, "a document entry has no plain file name (URI)")
    return read_cda_header(archive.read(f"{folder}/{entry.uri}"))


def read_xdm(data: bytes, *, accept_test_ins: bool = False) -> XdmDocument:
    """The archive understood (module docstring); XdmError (906) when it is
    refused. ``accept_test_ins``: test and demo INS count (never in production)."""
    try:
        archive = open_archive(data)
        path = _metadata_path(archive)
        folder = path.rsplit("/", 1)[0]
        metadata = read_metadata(archive.read(path))
        entries = _cda_entries(metadata)
        headers = [_header(archive, folder, entry) for entry in entries]
    except (ArchiveError, XmlError) as e:
        raise XdmError(OTHER_ERROR, e.reason) from None
    entry, cda = entries[0], headers[0]
    identity: Identity | None = None
    error: XdmError | None = None
    try:
        identity = resolve_identity(entry, cda, accept_test=accept_test_ins)
        for other_entry, other in zip(entries[1:], headers[1:], strict=True):
            if resolve_identity(other_entry, other, accept_test=accept_test_ins).ins \
                    != identity.ins:
                raise IdentityError(INS_MISMATCH, "the CDA documents of the archive are about "
                                         "different patients")
    except IdentityError as e:
        identity, error = None, XdmError(e.code, e.reason)
    return XdmDocument(metadata_path=path, entry=entry, cda=cda, identity=identity,
                       error=error, replaced_entry=metadata.replaces.get(entry.entry_id, ""),
                       documents=len(entries))

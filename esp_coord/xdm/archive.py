"""Opening an ``IHE_XDM.ZIP`` archive without trusting anything it says.

An XDM archive (IHE ITI TF-1 16, TF-3 4.1.2; the ANS CI-SIS volet « Échange
de documents de santé » for its use over MSSanté) is a ZIP holding
``README.TXT``, ``INDEX.HTM`` and ``IHE_XDM/<SUBSET>/METADATA.XML`` with the
documents of that submission set beside it (a CDA R2 document, often its
PDF). It comes from outside the team, so every number in it is a claim:

- the end of central directory record is read first, by hand: more than
  ``MAX_ENTRIES`` entries or a central directory over ``MAX_DIRECTORY_BYTES``
  is refused before ``zipfile`` builds one object per entry (a 10 MB archive
  of empty names would be 200,000 of them), and ZIP64 is refused outright (an
  XDM archive is a few megabytes);
- each entry: a relative path of at most 255 characters, in ``/``-separated
  components, none of them ``..`` nor empty, no drive, no backslash, no
  control character; no duplicate (case-blind); not a symbolic link; not
  encrypted; stored or deflated only; at most ``MAX_ENTRY_BYTES`` once
  inflated, ``MAX_TOTAL_BYTES`` for all, and at most ``MAX_RATIO`` times its
  compressed size (a zip bomb inflates a thousandfold and more);
- no archive inside the archive: neither by name (``.zip``, ``.gz``, ``.7z``...)
  nor by content (the first bytes of every entry are read and compared with
  the magic numbers of the usual archive formats);
- what is read is never more than the entry declared: ``zipfile`` stops
  inflating at the declared size and checks the CRC at the end, so an entry
  lying about its size is refused, after at most that many bytes.

Cost: linear in the archive's size for the directory, and at most
``MAX_TOTAL_BYTES`` of inflation in all, whatever the archive holds.

Nothing here knows about patients: errors name the rule that was broken,
never an entry's content (``ArchiveError.reason``, English, for logs and
``esp-coord parse``).
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_ENTRIES", "MAX_ENTRY_BYTES", "MAX_RATIO", "MAX_TOTAL_BYTES", "ArchiveError",
           "XdmArchive", "open_archive"]

MAX_ENTRIES = 64
MAX_ENTRY_BYTES = 16 * 2**20
MAX_TOTAL_BYTES = 48 * 2**20
MAX_RATIO = 100
# Entries this small inflate too little to matter, whatever their ratio:
# a short README.TXT of spaces compresses very well.
_RATIO_FLOOR = 64 * 1024
MAX_DIRECTORY_BYTES = MAX_ENTRIES * (46 + 255 + 1024)
MAX_NAME = 255
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
# Magic numbers of archive formats an entry must not be: ZIP (local header,
# empty archive, spanned), gzip, bzip2, xz, 7z, RAR, zstd, and tar's "ustar"
# at offset 257 (checked separately).
_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
           b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd")
_HEAD_BYTES = 262
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".jar",
                     ".zst", ".cab", ".z")
_CHUNK = 64 * 1024


class ArchiveError(ValueError):
    """The archive is refused. ``reason``: the rule it broke (English, no
    content of the archive); the ANS code of such a refusal is 906."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    name: str  # as in the archive
    key: str   # upper case, for case-blind look-ups (XDM names are upper case)


def _end_record(data: bytes) -> tuple[int, int]:
    """(entries, central directory size) from the end of central directory
    record; ArchiveError when there is none or it announces too much."""
    # The record is 22 bytes plus a comment of at most 65,535: look no further.
    at = data.rfind(_EOCD_SIGNATURE, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or len(data) - at < _EOCD.size:
        raise ArchiveError("not a ZIP archive (no end of central directory)")
    _, disk, start_disk, here, total, size, _offset, _comment = _EOCD.unpack_from(data, at)
    if disk or start_disk or here != total:
        raise ArchiveError("multi-volume ZIP archives are not accepted")
    if data.rfind(_ZIP64_LOCATOR, max(0, at - 20), at) >= 0 or total == 0xFFFF \
            or size == 0xFFFFFFFF:
        raise ArchiveError("ZIP64 archives are not accepted")
    if total > MAX_ENTRIES:
        raise ArchiveError(f"more than {MAX_ENTRIES} entries")
    if size > MAX_DIRECTORY_BYTES:
        raise ArchiveError("central directory too large")
    return total, size


def _check_name(name: str) -> str:
    """The entry's name if it is a plain relative path inside the archive."""
    if not name or len(name) > MAX_NAME:
        raise ArchiveError("an entry has an empty or overlong name")
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name or ":" in name:
        raise ArchiveError("an entry name has a control character, a backslash or a drive")
    if name.startswith("/"):
        raise ArchiveError("an entry has an absolute path")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveError("an entry path leaves the archive or has empty components")
    return name


def _check_entry(info: zipfile.ZipInfo) -> None:
    if info.flag_bits & 0x1:
        raise ArchiveError("encrypted entries are not accepted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError("an entry uses a compression other than stored or deflate")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArchiveError("symbolic links are not accepted")
    if info.file_size > MAX_ENTRY_BYTES:
        raise ArchiveError(f"an entry is over {MAX_ENTRY_BYTES // 2**20} MiB once inflated")
    if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise ArchiveError(f"an entry inflates more than {MAX_RATIO} times (zip bomb?)")
    lowered = info.filename.lower()
    if not info.is_dir() and lowered.endswith(_ARCHIVE_SUFFIXES):
        raise ArchiveError("an archive inside the archive is not accepted")


def _is_archive(head: bytes) -> bool:
    return head.startswith(_MAGICS) or head[257:262] == b"ustar"


class XdmArchive:
    """An archive that passed the checks of the module docstring; ``read``
    gives an entry's bytes (at most its declared size, CRC checked)."""

    def __init__(self, data: bytes) -> None:
        _end_record(data)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError,
                NotImplementedError, struct.error, OSError, UnicodeError) as e:
            raise ArchiveError(f"unreadable ZIP archive ({type(e).__name__})") from None
        if len(infos) > MAX_ENTRIES:
            raise ArchiveError(f"more than {MAX_ENTRIES} entries")
        entries: dict[str, _Entry] = {}
        total = 0
        for info in infos:
            name = _check_name(info.filename)
            _check_entry(info)
            key = name.upper()
            if key in entries:
                raise ArchiveError("two entries have the same name")
            entries[key] = _Entry(info, name, key)
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise ArchiveError(f"over {MAX_TOTAL_BYTES // 2**20} MiB once inflated")
        self._entries = entries
        for entry in entries.values():
            if not entry.info.is_dir():
                self._verify(entry)

    @property
    def names(self) -> list[str]:
        """Every entry's name, as in the archive, directories included."""
        return [entry.name for entry in self._entries.values()]

    def find(self, suffix: str) -> list[str]:
        """Names of the files ending with ``suffix`` (case-blind)."""
        wanted = suffix.upper()
        return [e.name for e in self._entries.values()
                if not e.info.is_dir() and e.key.endswith(wanted)]

    def size(self, name: str) -> int:
        entry = self._entries.get(name.upper())
        if entry is None:
            raise ArchiveError("an entry named by the metadata is missing")
        return entry.info.file_size

    def read(self, name: str, limit: int | None = None) -> bytes:
        """The whole entry (case-blind name); ArchiveError when it is missing,
        over ``limit`` bytes, or damaged (size or CRC)."""
        entry = self._entries.get(name.upper())
        if entry is None or entry.info.is_dir():
            raise ArchiveError("an entry named by the metadata is missing")
        if limit is not None and entry.info.file_size > limit:
            raise ArchiveError(f"an entry is over {limit // 1024} KiB")
        return self._read(entry)

    def _verify(self, entry: _Entry) -> None:
        """Inflate the whole entry once, keeping nothing but its first bytes:
        its CRC and size are checked (``zipfile`` does at the end of the
        stream) and it must not be an archive itself."""
        head = b""

        def keep(chunk: bytes) -> None:
            nonlocal head
            if len(head) < _HEAD_BYTES:
                head += chunk[: _HEAD_BYTES - len(head)]

        self._stream(entry, keep)
        if _is_archive(head):
            raise ArchiveError("an archive inside the archive is not accepted")

    def _read(self, entry: _Entry) -> bytes:
        chunks: list[bytes] = []
        self._stream(entry, chunks.append)
        return b"".join(chunks)

    def _stream(self, entry: _Entry, sink: Callable[[bytes], None]) -> None:
        """The entry's bytes to ``sink``, in chunks, never more than it declares."""
        left = entry.info.file_size
        try:
            with self._zip.open(entry.info) as stream:
                while left > 0:
                    chunk = stream.read(min(_CHUNK, left))
                    if not chunk:
                        raise ArchiveError("an entry is shorter than it declares")
                    sink(chunk)
                    left -= len(chunk)
                # Past the declared size: zipfile gives nothing more, and
                # reading to the end makes it check the CRC.
                if stream.read(1):
                    raise ArchiveError("an entry is longer than it declares")
        except ArchiveError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, struct.error, UnicodeError) as e:
            raise ArchiveError(f"a damaged entry ({type(e).__name__})") from None


def open_archive(data: bytes) -> XdmArchive:
    """The archive, checked (module docstring); ArchiveError when refused."""
    if not data.startswith(b"PK\x03\x04"):
        raise ArchiveError("not a ZIP archive")
    return XdmArchive(bytes(data))


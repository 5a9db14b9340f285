"""Hostile archives and XML: each is refused (ANS code 906) with the rule it
broke, never read past its bounds, never a crash."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from esp_coord.xdm import XdmError, read_xdm
from esp_coord.xdm.archive import MAX_ENTRIES, MAX_ENTRY_BYTES, ArchiveError, open_archive
from esp_coord.xdm.xml import MAX_DEPTH, XmlError, parse
from tests.support.xdm import Letter, cda_document, metadata_xml, xdm_archive

SUBSET = "IHE_XDM/SUBSET01/"


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def _good(**more: bytes) -> dict[str, bytes]:
    return {"README.TXT": b"x", f"{SUBSET}METADATA.XML": metadata_xml(Letter(), pdf=False),
            f"{SUBSET}DOC0001.XML": cda_document(Letter()), **more}


def _refused(data: bytes) -> str:
    with pytest.raises(XdmError) as refused:
        read_xdm(data, accept_test_ins=True)
    assert refused.value.code == 906
    return refused.value.reason


def test_the_good_archive_passes() -> None:
    assert read_xdm(_zip(_good()), accept_test_ins=True).identity is not None


def _raw_zip(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A stored ZIP written by hand: names exactly as given (zipfile would
    rewrite some), correct sizes and CRCs."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        crc = zlib.crc32(data)
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data),
                           len(data), len(name), 0) + name + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc,
                               len(data), len(data), len(name), 0, 0, 0, 0, 0,
                               offset) + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(out), 0)
    return bytes(out + central + end)


def test_a_hand_written_archive_passes() -> None:
    good = [(name.encode(), data) for name, data in _good().items()]
    assert read_xdm(_raw_zip(good), accept_test_ins=True).identity is not None


@pytest.mark.parametrize("name", [
    b"../evil.txt", b"IHE_XDM/../../evil", b"/etc/passwd", b"C:/windows/evil",
    b"IHE_XDM\\x.txt", b"IHE_XDM//x.txt", b"./x", b"a\x01b", b"x" * 300, b"",
])
def test_paths_outside_the_archive_are_refused(name: bytes) -> None:
    good = [(n.encode(), data) for n, data in _good().items()]
    reason = _refused(_raw_zip([*good, (name, b"evil")]))
    assert "evil" not in reason


def central_at_start(data: bytes) -> int:
    end_at = data.rindex(b"PK\x05\x06")
    return int(struct.unpack_from("<L", data, end_at + 16)[0])


def test_too_many_entries_are_refused_before_zipfile_reads_them() -> None:
    entries = _good(**{f"f{i}.txt": b"" for i in range(MAX_ENTRIES)})
    assert "entries" in _refused(_zip(entries))


def test_a_central_directory_lying_about_its_count_is_refused() -> None:
    data = bytearray(_zip(_good()))
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFF, 0xFFFF)
    assert "ZIP64" in _refused(bytes(data))


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    # 16 MiB of zeros deflate to 16 kB: a thousandfold.
    reason = _refused(_zip(_good(**{f"{SUBSET}BOMB.TXT": bytes(MAX_ENTRY_BYTES)})))
    assert "inflates" in reason


def test_an_entry_over_the_limit_is_refused() -> None:
    big = bytes(range(256)) * ((MAX_ENTRY_BYTES + 512) // 256)
    assert "MiB" in _refused(_zip(_good(**{f"{SUBSET}BIG.BIN": big}), zipfile.ZIP_STORED))


def test_an_entry_lying_about_its_size_is_refused() -> None:
    data = bytearray(_zip(_good(**{"PAD.TXT": b"a" * 5000}), zipfile.ZIP_STORED))
    # Claim 100 bytes in the central directory: the CRC no longer matches.
    cd = central_at_start(bytes(data))
    at = data.index(b"PAD.TXT", cd) - 46
    struct.pack_into("<L", data, at + 24, 100)
    reason = _refused(bytes(data))
    assert "damaged" in reason or "declares" in reason or "unreadable" in reason


def test_a_damaged_crc_is_refused() -> None:
    data = bytearray(_zip(_good(**{"PAD.TXT": b"a" * 5000}), zipfile.ZIP_STORED))
    at = data.index(b"a" * 5000)
    data[at] = ord("b")
    assert "damaged" in _refused(bytes(data))


@pytest.mark.parametrize("name", ["INNER.ZIP", "doc.tar.gz", "x.7z", "IHE_XDM/SUBSET01/A.RAR"])
def test_archives_inside_by_name_are_refused(name: str) -> None:
    assert "inside" in _refused(_zip(_good(**{name: b"not really"})))


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"\x1f\x8b\x08", b"BZh9", b"7z\xbc\xaf\x27\x1c",
                                   b"Rar!\x1a\x07\x00", b"\xfd7zXZ\x00"])
def test_archives_inside_by_content_are_refused(magic: bytes) -> None:
    assert "inside" in _refused(_zip(_good(**{f"{SUBSET}DOC0002.PDF": magic + b"\0" * 300})))


def test_a_tar_inside_is_refused() -> None:
    tar = bytearray(512)
    tar[257:262] = b"ustar"
    assert "inside" in _refused(_zip(_good(**{f"{SUBSET}DOC0003.BIN": bytes(tar)})))


def test_symbolic_links_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in _good().items():
            z.writestr(name, data)
        link = zipfile.ZipInfo(f"{SUBSET}LINK")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    assert "link" in _refused(out.getvalue())


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(_zip(_good()))
    cd = central_at_start(bytes(data))
    struct.pack_into("<H", data, cd + 8, 1)
    assert "encrypted" in _refused(bytes(data))


def test_other_compressions_are_refused() -> None:
    assert "compression" in _refused(_zip(_good(), zipfile.ZIP_BZIP2))


def test_duplicate_names_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in _good().items():
            z.writestr(name, data)
        z.writestr("readme.txt", b"again")  # the same name but for case
    assert "same name" in _refused(out.getvalue())


@pytest.mark.parametrize("data", [b"", b"PK", b"PK\x03\x04garbage", b"%PDF-1.4", b"\x00" * 100])
def test_what_is_not_a_zip_is_refused(data: bytes) -> None:
    _refused(data)


def test_a_truncated_archive_is_refused() -> None:
    data = xdm_archive()
    for cut in (len(data) // 3, len(data) - 30, len(data) - 1):
        _refused(data[:cut])


def test_several_submission_sets_are_refused() -> None:
    entries = _good(**{"IHE_XDM/SUBSET02/METADATA.XML": metadata_xml(Letter())})
    assert "several" in _refused(_zip(entries))


def test_no_metadata_is_refused() -> None:
    assert "METADATA" in _refused(_zip({"README.TXT": b"x"}))


# --- XML -------------------------------------------------------------------------

LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
          b"<lolz>&lol3;</lolz>")
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<x>&e;</x>")
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>'
QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"a" * 10_000 + b'">]><x>'
             + b"&a;" * 1000 + b"</x>")
PARAMETER = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">'
             b"%p;]><x/>")


@pytest.mark.parametrize("document", [LAUGHS, EXTERNAL, EXTERNAL_DTD, QUADRATIC, PARAMETER])
def test_no_dtd_no_entity_reaches_the_parser(document: bytes) -> None:
    with pytest.raises(XmlError) as refused:
        parse(document)
    assert "forbidden" in refused.value.reason or "well-formed" in refused.value.reason


@pytest.mark.parametrize("where", ["metadata", "cda"])
@pytest.mark.parametrize("document", [LAUGHS, EXTERNAL, QUADRATIC])
def test_hostile_xml_in_the_archive_is_an_other_error(where: str, document: bytes) -> None:
    if where == "metadata":
        _refused(xdm_archive(metadata=document))
    else:
        _refused(xdm_archive(cda=document))


def test_deep_nesting_is_refused() -> None:
    deep = b"<a>" * (MAX_DEPTH + 5) + b"</a>" * (MAX_DEPTH + 5)
    with pytest.raises(XmlError, match="deeper"):
        parse(deep)
    # A megabyte of it costs a refusal at the limit, not a tree.
    with pytest.raises(XmlError, match="deeper"):
        parse(b"<a>" * 350_000)


def test_xml_errors_never_quote_the_document() -> None:
    with pytest.raises(XmlError) as refused:
        parse(b"<x>PAT-TROIS 279035121518989<y></x>")
    assert "PAT" not in refused.value.reason and "2790" not in refused.value.reason


def test_open_archive_checks_what_zipfile_would_trust() -> None:
    # Overlapping entries (two central records on one local file) stay within
    # the per-entry and total bounds, and are read as what they declare.
    data = _zip({"A.TXT": b"a" * 1000})
    archive = open_archive(data)
    assert archive.read("a.txt") == b"a" * 1000
    with pytest.raises(ArchiveError):
        archive.read("IHE_XDM/SUBSET01/NOPE.XML")


"""The report as a person sees it: the HTML opened in a real headless browser
(Debian's chromium), the PDF rendered to images with pdftoppm.

Checked by the page's own structure (one chart per figure with a breakdown,
every section) and by the charts being drawn (the bars' colours present in
the screenshot), never by the pixels of one machine.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from esp_coord.report.pdf import html_to_pdf
from esp_coord.report.render import to_html
from plans.periods import parse_period
from tests.support.config import offline_config
from tests.support.report_history import scripted_history

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
BAR = (0x2B, 0x6C, 0xB0)  # the first bar colour of render._BAR_COLOURS


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (2, 6)
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(width * step)
    stride = width * step + 1
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(len(line)):
            left = line[x - step] if x >= step else 0
            up = previous[x]
            corner = previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def colour_count(path: Path, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    width, _, rows = png_pixels(path)
    step = len(rows[0]) // width
    return sum(1 for row in rows for x in range(0, len(row), step)
               if all(abs(row[x + i] - rgb[i]) <= tolerance for i in range(3)))


@pytest.fixture
async def report_html(tmp_path: Path) -> tuple[str, int, int]:
    config = offline_config(tmp_path, key_file=tmp_path / "esp.key")
    keyring = Keyring.generate()
    report, _ = await scripted_history(config, keyring,
                                       parse_period("T4 2026", today=date(2027, 1, 5)))
    charts = sum(1 for s in report.sections for f in s.figures if f.breakdown)
    return to_html(report), charts, len(report.sections)


def test_the_page_in_a_real_browser(report_html: tuple[str, int, int], tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("NOTICE: chromium is not installed (`make test` installs it as root): "
                    "the browser test of the report is skipped")
    html, charts, sections = report_html
    page = tmp_path / "rapport.html"
    page.write_text(html, encoding="utf-8")
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert len(re.findall(r'<svg class="chart"', dom)) == charts > 0
    assert len(re.findall(r"<section>", dom)) == sections
    shot = tmp_path / "rapport.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1100,4000",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert colour_count(shot, BAR) > 200  # the charts are drawn, not blank


def test_the_pdf_pages(report_html: tuple[str, int, int], tmp_path: Path) -> None:
    if PDFTOPPM is None:
        pytest.skip("NOTICE: poppler-utils is not installed (`make test` installs it as "
                    "root): the PDF rendering test is skipped")
    html, _, _ = report_html
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(html_to_pdf(html))
    subprocess.run([PDFTOPPM, "-r", "40", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page*.png"))
    info = subprocess.run([str(Path(PDFTOPPM).with_name("pdfinfo")), str(pdf)],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    declared = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert len(pages) == declared >= 2  # five sections on A4 do not fit one page
    assert sum(colour_count(p, BAR, tolerance=24) for p in pages) > 20  # charts in the PDF

"""HTML to PDF (WeasyPrint): the report's file for the ARS, printed as the
browser would, charts included (WeasyPrint draws inline SVG itself)."""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    import weasyprint  # imported here: a few hundred milliseconds, only for a PDF

    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf

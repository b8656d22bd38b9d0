"""HTML to PDF with WeasyPrint, never fetching anything from outside: every style and image is inline in the page,
and the fonts are the academy's own (static/fonts), embedded in every PDF so that Albanian, Cyrillic and Latin
diacritics print the same on any machine, whatever fonts it has installed.

A stylesheet names them with `url("academy-font:<file>")` (FONT_FACES does it for the PDFs' "Academy Sans").
"""

from pathlib import Path

FONTS = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT_SCHEME = "academy-font:"
FONT_FACES = f"""
@font-face {{ font-family: "Academy Sans"; src: url("{FONT_SCHEME}DejaVuSansCondensed.ttf"); }}
@font-face {{ font-family: "Academy Sans"; font-weight: bold; src: url("{FONT_SCHEME}DejaVuSansCondensed-Bold.ttf"); }}
"""


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # a heavy import, needed only when a PDF is made

    return HTML(string=html, url_fetcher=_own_fonts_only).write_pdf()


def _own_fonts_only(url, *args, **kwargs):
    if url.startswith(FONT_SCHEME):
        path = (FONTS / url.removeprefix(FONT_SCHEME)).resolve()
        if path.parent == FONTS and path.suffix == ".ttf" and path.is_file():
            return {"string": path.read_bytes(), "mime_type": "font/ttf"}
    raise ValueError(f"PDFs load no external resources ({url})")

"""HTML to PDF with WeasyPrint, never fetching anything: every style and image is inline in the page."""


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # a heavy import, needed only when a PDF is made

    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def _no_fetching(url, *args, **kwargs):
    raise ValueError(f"PDFs load no external resources ({url})")

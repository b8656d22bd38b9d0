"""A manager in a real browser: upload staff from CSV, preview, import, download the report in three formats (the
PDF and XLSX from the page of the job that makes them)."""
import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from academy.accounts.models import User
from academy.extensions import db
from academy.learning.sync import sync_content
from tests.browser.steps import sign_in
from tests.content_fixture import ContentFolder

pytestmark = pytest.mark.browser

CSV = "email,name,track,courses\nnew.one@a.org,Nora New,cert,intro-course\nnew.two@a.org,Nikola New,diplomat,intro-course\n"


def test_manager_uploads_previews_imports_and_downloads_reports(page, live_world, tmp_path):
    sync_content(ContentFolder(tmp_path / "c").folder)
    db.session.commit()
    upload = tmp_path / "staff.csv"
    upload.write_text(CSV, encoding="utf-8")

    sign_in(page, "manager@a.org")
    page.goto(f"/institutions/{live_world.institution_a.id}")
    page.get_by_role("link", name="Enrol staff from a CSV file").click()
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("nora new").or_(page.get_by_text("Nora New")).first).to_be_visible()
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_text("new.two@a.org").first).to_be_visible()
    db.session.rollback()
    assert db.session.scalar(db.select(User).where(User.email == "new.one@a.org")).institution_id == \
        live_world.institution_a.id

    page.goto(f"/institutions/{live_world.institution_a.id}/dashboard")
    expect(page.get_by_text("Nora New").first).to_be_visible()
    files = {}
    for fmt in ("csv", "xlsx", "pdf"):
        page.locator("#report").get_by_label("Format").select_option(fmt)
        if fmt == "csv":  # the CSV comes at once
            with page.expect_download() as info:
                page.locator("#report").get_by_role("button", name="Download the report").click()
        else:  # a PDF or XLSX: its job's page shows the progress, then offers the file
            page.locator("#report").get_by_role("button", name="Download the report").click()
            expect(page.get_by_role("status")).to_contain_text("Ready")
            with page.expect_download() as info:
                page.get_by_test_id("job-file").click()
        files[fmt] = Path(info.value.path()).read_bytes()
        page.goto(f"/institutions/{live_world.institution_a.id}/dashboard")
    text = files["csv"].decode("utf-8-sig")
    assert "new.one@a.org" in text and list(csv.reader(io.StringIO(text)))
    workbook = load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    assert len(workbook.sheetnames) >= 2
    assert files["pdf"].startswith(b"%PDF")

"""A large bulk import runs as a job of the job worker, with the same progress page as the report files: above
BULK_IMPORT_JOB_ROWS rows the confirmation only queues it; the page then links to what was imported."""
import logging
import re

import pytest

from academy.accounts.models import User
from academy.core.background import DONE, FAILED, QUEUED, BackgroundJob
from academy.core.jobs import huey
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions.models import BulkImport
from tests import factories
from tests.institutions.test_bulk import (  # noqa: F401
    confirm,
    fingerprint,
    invitation_links,
    manager,
    preview_url,
    second_course,
    upload,
)

STAFF = ("email,name,track,courses\n"
         "nora@a.org,Nora New,cert,intro-course\n"
         "nikola@a.org,Nikola New,diplomat,intro-course;second-course\n"
         "dita@a.org,Dita New,policy,\n")
SMALL_LIMIT = {"BULK_IMPORT_JOB_ROWS": 2}


def the_job() -> BackgroundJob:
    (job,) = db.session.scalars(db.select(BackgroundJob)).all()
    return job


@pytest.mark.parametrize("settings", [SMALL_LIMIT])
def test_a_large_import_is_a_job_whose_page_links_to_what_was_done(client, world, manager, caplog):  # noqa: F811
    caplog.set_level(logging.INFO)
    url = preview_url(upload(client, world.institution_a, STAFF))
    asked = confirm(client, url, follow=False)
    assert asked.status_code == 303 and re.fullmatch(r"/jobs/\d+", asked.headers["Location"])
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Import of staff.csv" in page
    assert '<progress id="job-progress" class="w-100 mb-2" max="100" value="100">' in page
    result = re.search(r'data-testid="job-result" href="([^"]+)"', page).group(1)
    assert result == url.split("localhost")[-1]
    assert "Nikola New" in client.get(result).get_data(as_text=True)
    job = the_job()
    assert (job.status, job.kind, job.detail) == (DONE, "bulk_import", {"invited": 3, "members": 0, "enrolments": 3})
    assert db.session.scalar(db.select(BulkImport)).status == BulkImport.IMPORTED
    assert set(invitation_links(caplog)) == {"nora@a.org", "nikola@a.org", "dita@a.org"}
    assert db.session.scalar(db.select(User).where(User.email == "nikola@a.org")).institution_id == \
        world.institution_a.id


@pytest.mark.parametrize("settings", [{**SMALL_LIMIT, "JOBS_IMMEDIATE": False}])
def test_the_confirmation_only_queues_the_import_and_a_second_click_finds_it(client, world, manager):  # noqa: F811
    url = preview_url(upload(client, world.institution_a, STAFF))
    print_ = fingerprint(client, url)
    first = confirm(client, url, print_, follow=False).headers["Location"]
    assert confirm(client, url, print_, follow=False).headers["Location"] == first
    assert huey.pending_count() == 1 and the_job().status == QUEUED
    assert db.session.scalar(db.select(User).where(User.email == "nora@a.org")) is None
    huey.execute(huey.dequeue())
    while (task := huey.dequeue()) is not None:  # the invitations, queued by the import
        huey.execute(task)
    assert client.get(f"{first}/status").get_json()["status"] == DONE
    assert db.session.scalar(db.select(User).where(User.email == "nora@a.org")) is not None


@pytest.mark.parametrize("settings", [SMALL_LIMIT])
def test_a_refused_import_fails_with_its_reason_and_imports_nothing(client, world, manager):  # noqa: F811
    url = preview_url(upload(client, world.institution_a, STAFF))
    page = client.get(confirm(client, url, "0" * 32, follow=False).headers["Location"]).get_data(as_text=True)
    assert "Nothing was imported: something has changed since this preview was shown" in page
    assert the_job().status == FAILED and db.session.scalar(db.select(BulkImport)).status == BulkImport.PREVIEW
    assert db.session.scalar(db.select(User).where(User.email == "nora@a.org")) is None


@pytest.mark.parametrize("settings", [SMALL_LIMIT])
def test_another_institutions_manager_cannot_follow_the_import(client, auth, world, manager):  # noqa: F811
    url = preview_url(upload(client, world.institution_a, STAFF))
    path = confirm(client, url, follow=False).headers["Location"]
    for user, status in ((world.manager_b, 404), (world.learner, 404), (world.admin, 200)):
        auth.as_user(user)
        assert client.get(path).status_code == status, user.email


def test_a_small_import_is_done_in_the_request(client, world, manager):  # noqa: F811
    url = preview_url(upload(client, world.institution_a, STAFF))
    assert confirm(client, url, follow=False).headers["Location"].endswith(url.split("localhost")[-1])
    assert db.session.scalar(db.select(db.func.count(BackgroundJob.id))) == 0


@pytest.mark.parametrize("settings", [SMALL_LIMIT])
def test_an_import_job_has_no_file_to_download_on_the_page_or_through_the_api(client, world, manager):  # noqa: F811
    confirm(client, preview_url(upload(client, world.institution_a, STAFF)), follow=False)
    job = the_job()
    assert job.status == DONE
    page = f"/jobs/{job.id}"
    assert client.get(f"{page}/status").get_json()["file_url"] is None
    served = client.get(f"{page}/file")
    assert served.status_code == 303 and served.headers["Location"].endswith(page)
    token = factories.make_token(world.manager_a)
    db.session.commit()
    answered = client.get(f"/api/v1/jobs/{job.id}/file", headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 409, answered.get_json()
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "export.download")) is None

from academy.extensions import db
from academy.learning.models import Course, Enrolment, Lesson, LessonProgress, Module


def enrol(client, course):
    return client.post(f"/courses/{course.slug}/enrol")


def test_catalogue_lists_published_courses_and_filters_by_track(client, auth, world, course):
    hidden = Course(slug="draft-course", title="A draft", summary="Not yet", tracks=["cert"], published=False,
                    content_hash="x")
    db.session.add(hidden)
    db.session.commit()
    auth.as_user(world.learner)
    page = client.get("/courses").get_data(as_text=True)
    assert "An introduction" in page and "A draft" not in page
    assert "An introduction" in client.get("/courses?track=cert").get_data(as_text=True)
    assert "An introduction" not in client.get("/courses?track=diplomat").get_data(as_text=True)
    assert client.get("/courses?track=<script>").status_code == 200


def test_unpublished_or_archived_course_answers_404(client, auth, world, course):
    auth.as_user(world.learner)
    enrol(client, course)
    course.published = False
    db.session.commit()
    assert client.get(f"/courses/{course.slug}").status_code == 404
    assert client.get(f"/courses/{course.slug}/lessons/first-lesson").status_code == 404
    course.published = True
    course.archived_at = course.created_at
    db.session.commit()
    assert client.get(f"/courses/{course.slug}/lessons/first-lesson").status_code == 404
    assert client.get("/courses/no-such-course").status_code == 404


def test_archived_lesson_answers_404_and_leaves_progress(client, auth, world, course):
    auth.as_user(world.learner)
    enrol(client, course)
    client.post(f"/courses/{course.slug}/lessons/second-lesson/done")
    lesson = db.session.scalar(db.select(Lesson).where(Lesson.slug == "second-lesson"))
    lesson.archived_at = lesson.created_at
    db.session.commit()
    assert client.get(f"/courses/{course.slug}/lessons/second-lesson").status_code == 404
    assert db.session.scalar(db.select(LessonProgress).where(LessonProgress.lesson_id == lesson.id)).done_at


def test_enrol_twice_creates_one_enrolment(client, auth, world, course):
    auth.as_user(world.learner)
    assert enrol(client, course).status_code == 302
    assert enrol(client, course).status_code == 302
    assert db.session.scalar(db.select(db.func.count(Enrolment.id))) == 1


def test_lessons_need_enrolment(client, auth, world, course):
    auth.as_user(world.learner)
    response = client.get(f"/courses/{course.slug}/lessons/first-lesson")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/courses/{course.slug}")
    assert client.post(f"/courses/{course.slug}/lessons/first-lesson/done").status_code == 302
    assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 0


def test_lesson_page_renders_sanitised_markdown_with_navigation(client, auth, world, course):
    auth.as_user(world.learner)
    enrol(client, course)
    page = client.get(f"/courses/{course.slug}/lessons/first-lesson").get_data(as_text=True)
    assert "The first lesson" in page and "Lesson 1 of 2" in page
    assert f'href="/courses/{course.slug}/lessons/second-lesson"' in page
    assert "§1 Introduction" in page
    second = client.get(f"/courses/{course.slug}/lessons/second-lesson").get_data(as_text=True)
    assert "<table>" in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_unknown_lesson_of_the_course_is_404(client, auth, world, course):
    auth.as_user(world.learner)
    enrol(client, course)
    assert client.get(f"/courses/{course.slug}/lessons/not-a-lesson").status_code == 404


def test_mark_done_moves_on_and_progress_counts(client, auth, world, course):
    auth.as_user(world.learner)
    enrol(client, course)
    first = client.post(f"/courses/{course.slug}/lessons/first-lesson/done")
    assert first.headers["Location"].endswith("/lessons/second-lesson")
    again = client.post(f"/courses/{course.slug}/lessons/first-lesson/done")
    assert again.headers["Location"].endswith("/lessons/second-lesson")
    assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 1
    second = client.post(f"/courses/{course.slug}/lessons/second-lesson/done")
    assert second.headers["Location"].endswith("/modules/first-module/quiz")
    page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    # two lessons of three steps (two lessons and one quiz)
    assert 'aria-valuenow="67"' in page
    assert "Continue where you left off" in page


def test_course_page_offers_enrol_then_start(client, auth, world, course):
    auth.as_user(world.learner)
    page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert ">Enrol</button>" in page
    enrol(client, course)
    page = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "Start the course" in page and 'aria-valuenow="0"' in page


def test_learning_home_shows_courses_and_suggestions(client, auth, world, course):
    world.learner.track = None
    db.session.commit()
    auth.as_user(world.learner)
    page = client.get("/learning").get_data(as_text=True)
    assert "You have not enrolled in a course yet." in page and "An introduction" in page
    enrol(client, course)
    page = client.get("/learning").get_data(as_text=True)
    assert "My courses" in page and "Continue" in page


def test_signed_in_home_goes_to_learning(client, auth, world):
    auth.as_user(world.learner)
    assert client.get("/").headers["Location"].endswith("/learning")


def test_api_lists_courses_with_counts(client, world, course):
    from tests.factories import make_token

    token = make_token(world.learner)
    db.session.commit()
    data = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [c["slug"] for c in data] == ["intro-course"]
    assert data[0]["lessons"] == 2 and data[0]["questions"] == 8
    assert data[0]["modules"][0] == {"slug": "first-module", "title": "The first module", "lessons": 2,
                                     "questions": 8, "questions_per_attempt": 8, "pass_mark": 70,
                                     "max_attempts": 3}
    assert client.get("/api/v1/courses?track=diplomat", headers={"Authorization": f"Bearer {token}"}).get_json() == []
    bad = client.get("/api/v1/courses?track=astronaut", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 422 and "track" in bad.get_json()["errors"]["query"]


def test_api_progress_reports_the_callers_enrolments(client, auth, world, course):
    from tests.factories import make_token

    token = make_token(world.learner)
    db.session.commit()
    auth.as_user(world.learner)
    enrol(client, course)
    client.post(f"/courses/{course.slug}/lessons/first-lesson/done")
    data = client.get("/api/v1/me/progress", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert data["user_id"] == world.learner.id
    (entry,) = data["courses"]
    assert entry["course_slug"] == "intro-course"
    assert (entry["lessons_done"], entry["lessons_total"], entry["quizzes_total"], entry["percent"]) == (1, 2, 1, 33)
    assert entry["completed_at"] is None and entry["certificate_code"] is None
    other = make_token(world.trainer)
    db.session.commit()
    assert client.get("/api/v1/me/progress", headers={"Authorization": f"Bearer {other}"}).get_json()["courses"] == []


def test_module_bank_is_loaded(course):
    module = db.session.scalar(db.select(Module).where(Module.slug == "first-module"))
    assert len(module.questions) == 8


def test_reading_a_lesson_again_soon_writes_nothing_and_later_or_elsewhere_does(client, auth, world, course):
    from datetime import timedelta

    from sqlalchemy import event

    auth.as_user(world.learner)
    enrol(client, course)
    lesson = f"/courses/{course.slug}/lessons/first-lesson"
    assert client.get(lesson).status_code == 200
    writes = []
    engine = db.engine

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert client.get(lesson).status_code == 200  # a reload, or scrolling back
        assert writes == []
        enrolment = db.session.scalar(db.select(Enrolment).where(Enrolment.user_id == world.learner.id))
        enrolment.last_activity_at -= timedelta(minutes=6)
        db.session.commit()
        writes.clear()
        assert client.get(lesson).status_code == 200
        assert len(writes) == 1  # the activity time, once it is older than the resolution
        writes.clear()
        assert client.get(f"/courses/{course.slug}/lessons/second-lesson").status_code == 200
        assert writes  # another lesson: where the learner is, and its progress row
    finally:
        event.remove(engine, "before_cursor_execute", count)
    enrolment = db.session.scalar(db.select(Enrolment).where(Enrolment.user_id == world.learner.id))
    second = db.session.scalar(db.select(Lesson).where(Lesson.slug == "second-lesson"))
    assert enrolment.last_lesson_id == second.id

"""Course and lesson pages read courses from their process's outlines, made again when the content changes."""
from sqlalchemy import insert, update

from academy.extensions import db
from academy.learning import outlines
from academy.learning.models import ContentRelease, Lesson


def test_a_release_of_another_process_shows_on_the_next_view(client, auth, world, course):
    auth.as_user(world.learner)
    client.post(f"/courses/{course.slug}/enrol")
    page = f"/courses/{course.slug}"
    assert "The first lesson" in client.get(page).get_data(as_text=True)
    # As another process's `content sync` does it: rows changed without this process's sessions knowing.
    lessons = Lesson.__table__
    db.session.execute(update(lessons).where(lessons.c.slug == "first-lesson").values(title="A lesson renamed"))
    db.session.commit()
    assert "A lesson renamed" not in client.get(page).get_data(as_text=True)  # the outline is kept…
    db.session.execute(insert(ContentRelease.__table__).values(tree_hash="0" * 64))
    db.session.commit()
    assert "A lesson renamed" in client.get(page).get_data(as_text=True)  # …until the release that changed it
    assert "A lesson renamed" in client.get(f"{page}/lessons/first-lesson").get_data(as_text=True)


def test_a_change_this_process_makes_shows_on_the_next_view(client, auth, world, course):
    auth.as_user(world.learner)
    client.post(f"/courses/{course.slug}/enrol")
    assert client.get(f"/courses/{course.slug}/lessons/second-lesson").status_code == 200
    lesson = db.session.scalar(db.select(Lesson).where(Lesson.slug == "second-lesson"))
    lesson.title = "The second lesson, revised"
    db.session.commit()
    assert "The second lesson, revised" in client.get(f"/courses/{course.slug}").get_data(as_text=True)


def test_an_outline_made_from_a_change_rolled_back_is_not_kept(client, auth, world, course):
    auth.as_user(world.learner)
    client.post(f"/courses/{course.slug}/enrol")
    lesson = db.session.scalar(db.select(Lesson).where(Lesson.slug == "first-lesson"))
    lesson.title = "Never saved"
    db.session.flush()
    assert outlines.course_outline(course.slug).modules[0].lessons[0].title == "Never saved"  # made in the transaction
    db.session.rollback()
    assert "Never saved" not in client.get(f"/courses/{course.slug}").get_data(as_text=True)

"""Quiz review policy: a learner who may try again sees their mistakes, never the keyed answers."""
from types import SimpleNamespace

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from academy.extensions import db
from academy.learning import quiz, services
from academy.learning.models import REVIEW_POLICIES, Module, Question
from academy.learning.sync import sync_content
from tests import factories
from tests.learning.test_quiz import answers_for, start, submit_url
from tests.test_migrations import migrated_app

COURSE = "intro-course/course.yml"
QUIZ = "intro-course/quizzes/first-module.yml"
HINT = "Reread when the Convention was opened, in §3.1."
# What the fixture's keyed answers and their explanations look like on a result page.
KEYED = ("<dt>The right answer</dt>", "It was opened in 2001.", "Austria is not one of the seven.", "It was.",
         "That is the order.", "As in Table 1.", "Montenegro → CIRT.ME", "1. first")
WITHHELD = 'data-testid="answers-withheld"'


@pytest.fixture
def learner(app, auth, course):
    """A signed-in learner enrolled in the fixture course, whose first question has a hint."""
    db.session.scalar(db.select(Question).where(Question.slug == "single-one")).hint = HINT
    user = factories.make_user()
    services.enrol(user, course)
    db.session.commit()
    return auth.as_user(user)


def take(client, wrong=lambda item: True) -> str:
    """Start and submit an attempt (all wrong unless told), and return its result page."""
    attempt = start(client)
    client.post(submit_url(attempt), data=answers_for(attempt, wrong=wrong))
    return client.get(submit_url(attempt)).get_data(as_text=True)


def set_review(course, review, max_attempts=3):
    module = course.modules[0]
    module.review, module.max_attempts = review, max_attempts
    db.session.commit()


def test_a_failure_with_attempts_left_marks_each_mistake_without_the_keyed_answers(client, learner):
    page = take(client)
    assert "Not passed" in page and page.count("Wrong</p>") == 8 and WITHHELD in page
    assert "The right answers are shown once you pass this quiz or have used your last attempt." in page
    for keyed in KEYED:
        assert keyed not in page, keyed
    assert "2004" in page and "1. third" in page  # the learner's own answers are still shown
    assert HINT in page  # the explanation of a mistake that does not give the answer away
    assert "§3.1 The Council of Europe" in page  # what to reread


def test_questions_answered_right_keep_their_explanation(client, learner):
    page = take(client, wrong=lambda item: item.question.slug.startswith("filler"))
    assert "Not passed" in page and page.count("Wrong</p>") == 3
    assert "It was opened in 2001." in page and "As in Table 1." in page
    assert "Filler." not in page and "<dt>The right answer</dt>" not in page


def test_after_passing_every_attempt_shows_the_right_answers(client, learner):
    first = start(client)
    client.post(submit_url(first), data=answers_for(first, wrong=lambda item: True))
    assert take(client, wrong=lambda item: False).count("<dt>The right answer</dt>") == 8
    page = client.get(submit_url(first)).get_data(as_text=True)
    assert "Not passed" in page and WITHHELD not in page and HINT not in page
    for keyed in KEYED:
        assert keyed in page, keyed


def test_the_last_attempt_shows_the_right_answers_but_an_open_one_does_not(client, learner):
    take(client)
    second = start(client)
    client.post(submit_url(second), data=answers_for(second, wrong=lambda item: True))
    third = start(client)  # open: the last attempt is still to be answered
    assert WITHHELD in client.get(submit_url(second)).get_data(as_text=True)
    client.post(submit_url(third), data=answers_for(third, wrong=lambda item: True))
    for attempt in (second, third):
        page = client.get(submit_url(attempt)).get_data(as_text=True)
        assert WITHHELD not in page and all(keyed in page for keyed in KEYED)


@pytest.mark.parametrize("review, note", [
    ("always", None),
    ("never", "This quiz does not show its right answers."),
    ("after_last_attempt", "The right answers are shown once you have used your last attempt."),
])
def test_each_policy_after_a_failure_with_attempts_left(client, learner, course, review, note):
    set_review(course, review)
    page = take(client)
    assert all((keyed in page) == (note is None) for keyed in KEYED)
    assert (WITHHELD in page) == (note is not None) and (note is None or note in page)


@pytest.mark.parametrize("review", ["never", "after_last_attempt"])
def test_strict_policies_withhold_the_answers_even_after_a_pass(client, learner, course, review):
    set_review(course, review)
    page = take(client, wrong=lambda item: False)
    assert "Passed" in page and WITHHELD in page and "<dt>The right answer</dt>" not in page


def attempts(*outcomes):
    """Past attempts: True passed, False failed, None still open."""
    return [SimpleNamespace(passed=bool(o), is_open=o is None, score=None) for o in outcomes]


# (attempts, max_attempts) -> whether each policy in REVIEW_POLICIES' order shows the answers.
STANDINGS = [
    ((attempts(False), 3), (False, False, True, False)),
    ((attempts(False, True), 3), (True, False, True, False)),
    ((attempts(False, False, False), 3), (True, True, True, False)),
    ((attempts(False, False, None), 3), (False, False, True, False)),
    ((attempts(True, None), 2), (True, False, True, False)),
    ((attempts(*[False] * 9), 0), (False, False, True, False)),
    ((attempts(), 3), (False, False, True, False)),
]


@pytest.mark.parametrize("standing, expected", STANDINGS)
def test_the_policy_table(standing, expected):
    past, max_attempts = standing
    shown = tuple(quiz.QuizStatus(SimpleNamespace(review=review, max_attempts=max_attempts), past, 8, True)
                  .shows_answers for review in REVIEW_POLICIES)
    assert shown == expected


def test_an_unknown_stored_policy_withholds_the_answers():
    status = quiz.QuizStatus(SimpleNamespace(review="sometimes", max_attempts=1), attempts(True), 8, True)
    assert not status.shows_answers and status.withheld_note


def test_the_default_is_the_safe_policy(app, content):
    sync_content(content.folder)
    assert db.session.scalar(db.select(Module.review)) == "after_pass_or_last_attempt" == REVIEW_POLICIES[0]


def test_the_policy_and_hints_are_synced_from_the_content_files(app, content):
    content.edit(COURSE, "max_attempts: 3", "max_attempts: 3\n      review: always")
    content.edit(QUIZ, "    explanation: It was opened in 2001.\n",
                 f"    explanation: It was opened in 2001.\n    hint: {HINT}\n")
    sync_content(content.folder)
    assert db.session.scalar(db.select(Module.review)) == "always"
    hints = dict(db.session.execute(db.select(Question.slug, Question.hint)).all())
    assert hints.pop("single-one") == HINT and set(hints.values()) == {None}


def test_content_check_rejects_an_unknown_policy(content, check):
    line = content.edit(COURSE, "max_attempts: 3", "max_attempts: 3\n      review: sometimes") + 1
    code, lines = check()
    assert code == 1
    assert content.error(COURSE, line, "review: unknown review policy 'sometimes' (expected one of: "
                                       "after_pass_or_last_attempt, after_last_attempt, always, never)") in lines


@pytest.mark.parametrize("hint, message", [('""', "hint: must not be empty"),
                                           ("See §99.", "hint: unknown section reference '§99'")])
def test_content_check_rejects_a_bad_hint(content, check, hint, message):
    line = content.edit(QUIZ, "    explanation: It was opened in 2001.\n",
                        f"    explanation: It was opened in 2001.\n    hint: {hint}\n") + 1
    code, lines = check()
    assert code == 1 and content.error(QUIZ, line, message) in lines


def test_content_check_accepts_every_policy(content, check):
    original = content.read(COURSE)
    for review in REVIEW_POLICIES:
        content.write(COURSE, original.replace("max_attempts: 3", f"max_attempts: 3\n      review: {review}"))
        code, lines = check()
        assert code == 0, lines


def _property_names(node) -> set[str]:
    if isinstance(node, dict):
        names = set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
        return names.union(*(_property_names(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_property_names(value) for value in node))
    return set()


def test_the_api_does_not_hand_out_keyed_answers(client, learner, course):
    take(client)
    token = factories.make_token(learner)
    db.session.commit()
    spec = client.get("/api/v1/openapi.json").get_json()
    assert not _property_names(spec) & {"answer", "answers", "correct", "solution", "explanation", "hint",
                                        "options", "paper", "given"}
    readable = [path for path, operations in spec["paths"].items() if "get" in operations and "{" not in path]
    assert "/api/v1/me/progress" in readable
    for path in readable:
        body = client.get(path, headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
        assert not any(text in body for text in ("It was opened in 2001.", "CIRT.ME", "Austria", '"correct"')), path


def test_the_migration_gives_existing_modules_the_safe_policy(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision="5b9638873440")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO course (id, slug, title, summary, tracks, published, position, content_hash, updated_at, "
                "created_at) VALUES (1, 'c', 'C', 'S', '[]', true, 0, 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO module (id, slug, course_id, title, summary, pass_mark, questions_per_attempt, "
                "max_attempts, position, content_hash, updated_at, created_at) "
                "VALUES (1, 'm', 1, 'M', 'S', 70, 8, 3, 0, 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade(revision="5cf9611dcdc3")
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT review FROM module")).scalar_one() == "after_pass_or_last_attempt"
        assert "hint" in {column["name"] for column in inspect(db.engine).get_columns("question")}
        downgrade(revision="5b9638873440")
        assert "review" not in {column["name"] for column in inspect(db.engine).get_columns("module")}
        downgrade(revision="base")
        db.session.remove()
        db.engine.dispose()

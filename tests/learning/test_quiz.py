"""Module quizzes: drawing the paper, the five question types, scoring, attempt policy and tampering."""
from random import Random

import pytest

from academy.core.models import utcnow
from academy.extensions import db
from academy.learning import quiz, services
from academy.learning.models import Certificate, Question, QuizAttempt
from tests import factories

QUIZ_URL = "/courses/intro-course/modules/first-module/quiz"
START_URL = QUIZ_URL + "/start"


@pytest.fixture
def module(course):
    return course.modules[0]


@pytest.fixture
def learner(app, auth, course):
    """A signed-in learner enrolled in the fixture course."""
    user = factories.make_user()
    services.enrol(user, course)
    db.session.commit()
    return auth.as_user(user)


def start(client) -> QuizAttempt:
    response = client.post(START_URL)
    assert response.status_code == 302
    attempt_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(QuizAttempt, attempt_id)


def right_answer(item) -> dict:
    data, field = item.question.data, item.field
    if item.kind == "single":
        return {field: next(o["id"] for o in data["options"] if o["correct"])}
    if item.kind == "multiple":
        return {field: [o["id"] for o in data["options"] if o["correct"]]}
    if item.kind == "true_false":
        return {field: "true" if data["answer"] else "false"}
    if item.kind == "ordering":
        return {f"{field}-{i['id']}": str(n) for n, i in enumerate(data["items"], start=1)}
    return {f"{field}-{p['id']}": p["right_id"] for p in data["pairs"]}


def wrong_answer(item) -> dict:
    data, field = item.question.data, item.field
    if item.kind == "single":
        return {field: next(o["id"] for o in data["options"] if not o["correct"])}
    if item.kind == "multiple":
        return {field: [next(o["id"] for o in data["options"] if o["correct"])]}  # only half of the answer
    if item.kind == "true_false":
        return {field: "false" if data["answer"] else "true"}
    if item.kind == "ordering":
        return {f"{field}-{i['id']}": str(len(data["items"]) + 1 - n) for n, i in enumerate(data["items"], start=1)}
    rights = [p["right_id"] for p in data["pairs"]]
    return {f"{field}-{p['id']}": rights[n - 1] for n, p in enumerate(data["pairs"])}


def answers_for(attempt, wrong=lambda item: False) -> dict:
    form = {}
    for item in quiz.paper_items(attempt):
        form.update(wrong_answer(item) if wrong(item) else right_answer(item))
    return form


def submit_url(attempt) -> str:
    return f"/quiz/attempts/{attempt.id}"


def test_the_paper_draws_questions_per_attempt_from_the_live_bank(client, learner, module):
    module.questions_per_attempt = 5
    db.session.commit()
    attempt = start(client)
    ids = [entry["question_id"] for entry in attempt.paper]
    bank = {q.id for q in module.questions}
    assert len(ids) == len(set(ids)) == attempt.total == 5 and set(ids) <= bank

    archived = module.questions[0]
    archived.archived_at = utcnow()
    module.questions_per_attempt = 8
    client.post(submit_url(attempt), data=answers_for(attempt))
    db.session.commit()
    attempt = start(client)
    assert len(attempt.paper) == 7 and archived.id not in {e["question_id"] for e in attempt.paper}


def test_two_attempts_draw_the_questions_in_a_different_order(app, course, module):
    user = factories.make_user()
    services.enrol(user, course)
    module.max_attempts = 0
    papers = []
    for seed in range(2):
        attempt = quiz.start_attempt(user, module, rng=Random(seed))
        papers.append(attempt.paper)
        quiz.submit(attempt, {})
    first, second = ([entry["question_id"] for entry in paper] for paper in papers)
    assert sorted(first) == sorted(second) and first != second
    assert [e["shown"] for e in papers[0]] != [e["shown"] for e in papers[1]]


def test_the_default_draw_is_random(app, course, module):
    user = factories.make_user()
    services.enrol(user, course)
    module.max_attempts = 0
    orders = set()
    for _ in range(5):
        attempt = quiz.start_attempt(user, module)
        orders.add(tuple(entry["question_id"] for entry in attempt.paper))
        quiz.submit(attempt, {})
    assert len(orders) > 1  # 8! orders: five equal draws in a row would be a broken shuffle


def test_the_paper_is_accessible_and_does_not_give_the_answers_away(client, learner):
    attempt = start(client)
    page = client.get(submit_url(attempt)).get_data(as_text=True)
    assert page.count("<fieldset") == page.count("<legend") == 8
    assert "Select all that apply" in page and ">True</label>" in page and ">False</label>" in page
    assert page.count("Position of") == 3 and 'name="csrf_token"' in page
    assert "correct" not in page.lower()
    items = {item.kind: item for item in quiz.paper_items(attempt)}
    single = items["single"]
    assert f'name="{single.field}"' in page and 'type="radio"' in page and 'type="checkbox"' in page
    matching = items["matching"]
    for left_id in matching.shown["lefts"]:
        assert f'<label class="col-sm-5 col-form-label" for="{matching.field}-{left_id}">' in page


def test_all_right_passes_and_shows_feedback(client, learner):
    attempt = start(client)
    response = client.post(submit_url(attempt), data=answers_for(attempt))
    assert response.status_code == 302 and response.headers["Location"] == submit_url(attempt)
    db.session.refresh(attempt)
    assert (attempt.correct, attempt.total, attempt.score, attempt.passed) == (8, 8, 100, True)
    page = client.get(submit_url(attempt)).get_data(as_text=True)
    assert "You passed with 100%." in page and "Passed" in page and "pass mark 70%" in page
    assert page.count("bi-check-circle-fill") == 9 and "Wrong" not in page
    assert "It was opened in 2001." in page and "As in Table 1." in page
    assert "§3.1 The Council of Europe" in page and "§4.8 Regional summary" in page
    assert "Montenegro → CIRT.ME" in page and "1. first" in page


@pytest.mark.parametrize("slug", ["single-one", "multiple-one", "true-false-one", "ordering-one", "matching-one"])
def test_each_type_is_scored_wrong_through_the_form(client, learner, slug):
    attempt = start(client)
    client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: item.question.slug == slug))
    db.session.refresh(attempt)
    wrong = next(item for item in quiz.paper_items(attempt) if item.question.slug == slug)
    verdicts = {int(qid): entry["correct"] for qid, entry in attempt.answers.items()}
    assert verdicts.pop(wrong.question.id) is False and all(verdicts.values())
    assert (attempt.correct, attempt.score, attempt.passed) == (7, 88, True)
    page = client.get(submit_url(attempt)).get_data(as_text=True)
    assert page.count("Wrong") == 1 and page.count("bi-x-circle-fill") == 1


def test_too_many_wrong_answers_fail(client, learner):
    attempt = start(client)
    fillers_wrong = answers_for(attempt, wrong=lambda item: item.question.slug.startswith("filler"))
    client.post(submit_url(attempt), data=fillers_wrong)
    db.session.refresh(attempt)
    assert (attempt.correct, attempt.score, attempt.passed) == (5, 62, False)
    page = client.get(submit_url(attempt)).get_data(as_text=True)
    assert "You scored 62%; the pass mark is 70%." in page and "Not passed" in page
    assert page.count("Wrong") == 3 and "Retake the quiz" in page


def test_the_fourth_start_after_three_failures_is_refused(client, learner, module):
    for _ in range(3):
        attempt = start(client)
        client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: True))
    response = client.post(START_URL, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == QUIZ_URL
    assert "You have used all 3 attempts at this quiz." in page and "3 of 3" in page
    assert "Start the quiz" not in page and "Retake the quiz" not in page
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 3


def test_no_attempt_limit_when_max_attempts_is_zero(client, learner, module):
    module.max_attempts = 0
    db.session.commit()
    numbers = []
    for _ in range(5):
        attempt = start(client)
        numbers.append(attempt.number)
        client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: True))
    assert numbers == [1, 2, 3, 4, 5]
    assert "5 (no limit)" in client.get(QUIZ_URL).get_data(as_text=True)


def _tamper(attempt, how) -> dict:
    form = answers_for(attempt)
    items = {item.kind: item for item in quiz.paper_items(attempt)}
    if how == "question":
        form["q-999999"] = "x"
    elif how == "option":
        form[items["single"].field] = "not-an-option"
    elif how == "multiple-option":
        form[items["multiple"].field] = [*form[items["multiple"].field], "not-an-option"]
    elif how == "ordering-extra":
        form[items["ordering"].field + "-extra"] = "1"
    elif how == "ordering-position":
        form[next(key for key in form if key.startswith(items["ordering"].field + "-"))] = "9"
    elif how == "matching-extra":
        form[items["matching"].field + "-extra"] = items["matching"].shown["rights"][0]
    elif how == "matching-right":
        form[next(key for key in form if key.startswith(items["matching"].field + "-"))] = "not-a-right"
    elif how == "suffix-on-single":
        form[items["single"].field + "-x"] = "1"
    return form


@pytest.mark.parametrize("how", ["question", "option", "multiple-option", "ordering-extra", "ordering-position",
                                 "matching-extra", "matching-right", "suffix-on-single"])
def test_a_tampered_answer_is_refused_and_nothing_is_recorded(client, learner, how):
    attempt = start(client)
    response = client.post(submit_url(attempt), data=_tamper(attempt, how))
    assert response.status_code == 400
    assert "not on this paper, so nothing was recorded" in response.get_data(as_text=True)
    db.session.refresh(attempt)
    assert attempt.is_open and attempt.answers is None and attempt.score is None
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 1
    assert client.post(submit_url(attempt), data=answers_for(attempt)).status_code == 302  # still answerable


def test_unanswered_questions_show_the_paper_again_with_the_choices_kept(client, learner):
    attempt = start(client)
    items = {item.kind: item for item in quiz.paper_items(attempt)}
    form = answers_for(attempt)
    del form[items["true_false"].field]
    ordering_field = next(key for key in form if key.startswith(items["ordering"].field + "-"))
    form[ordering_field] = ""
    response = client.post(submit_url(attempt), data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Answer every question (2 left)." in page
    assert page.count("Not answered yet.") == 2
    chosen = form[items["single"].field]
    assert f'value="{chosen}" checked' in page
    matching_field = next(key for key in form if key.startswith(items["matching"].field + "-"))
    assert f'value="{form[matching_field]}" selected' in page
    db.session.refresh(attempt)
    assert attempt.is_open and attempt.answers is None


def test_the_same_position_twice_counts_as_unanswered(client, learner):
    attempt = start(client)
    ordering = next(item for item in quiz.paper_items(attempt) if item.kind == "ordering")
    form = answers_for(attempt)
    for key in form:
        if key.startswith(ordering.field + "-"):
            form[key] = "1"
    response = client.post(submit_url(attempt), data=form)
    assert response.status_code == 200 and "Answer every question (1 left)." in response.get_data(as_text=True)


def test_a_double_submit_records_one_result(client, learner):
    attempt = start(client)
    first = client.post(submit_url(attempt), data=answers_for(attempt))
    db.session.refresh(attempt)
    recorded = (attempt.submitted_at, attempt.score, attempt.number)
    second = client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: True))
    assert (first.status_code, first.headers["Location"]) == (second.status_code, second.headers["Location"])
    db.session.refresh(attempt)
    assert (attempt.submitted_at, attempt.score, attempt.number) == recorded
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 1


def test_a_racing_submit_that_loses_records_nothing(client, learner):
    attempt = start(client)
    stale = db.session.get(QuizAttempt, attempt.id)
    assert stale.is_open
    client.post(submit_url(attempt), data=answers_for(attempt))  # the other request wins the race
    outcome = quiz.submit(stale, {})
    assert not outcome.recorded and outcome.attempt.score == 100


def test_a_double_start_creates_one_attempt(client, learner):
    first = client.post(START_URL)
    second = client.post(START_URL)
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 1


def test_a_start_that_loses_the_race_returns_the_winners_attempt(app, course, module, monkeypatch):
    user = factories.make_user()
    services.enrol(user, course)
    winner = quiz.start_attempt(user, module)
    db.session.commit()
    # The losing request read the attempts before the winner's insert: it saw none.
    monkeypatch.setattr(quiz, "status_for", lambda u, m: quiz.QuizStatus(m, [], 8, True))
    loser = quiz.start_attempt(user, module)
    assert loser.id == winner.id and loser.number == 1
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 1


def test_another_users_attempt_is_not_found(client, auth, learner, course):
    attempt = start(client)
    other = factories.make_user()
    services.enrol(other, course)
    db.session.commit()
    auth.as_user(other)
    assert client.get(submit_url(attempt)).status_code == 404
    assert client.post(submit_url(attempt), data=answers_for(attempt)).status_code == 404
    db.session.refresh(attempt)
    assert attempt.is_open
    assert client.get("/quiz/attempts/999999").status_code == 404


def test_the_overview_shows_rules_history_and_best_score(client, learner):
    page = client.get(QUIZ_URL).get_data(as_text=True)
    assert "70%" in page and "0 of 3" in page and "none yet" in page and "Start the quiz" in page
    attempt = start(client)
    assert "Resume attempt 1" in client.get(QUIZ_URL).get_data(as_text=True)
    client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: item.question.slug == "single-one"))
    page = client.get(QUIZ_URL).get_data(as_text=True)
    assert "1 of 3" in page and "88% · passed" in page and "Retake the quiz" in page
    assert f'href="{submit_url(attempt)}"' in page and "You have passed this quiz." in page


def test_passing_the_last_quiz_after_the_lessons_issues_the_certificate(client, learner, course):
    for lesson in ("first-lesson", "second-lesson"):
        client.post(f"/courses/intro-course/lessons/{lesson}/done")
    assert db.session.scalar(db.select(Certificate)) is None
    attempt = start(client)
    response = client.post(submit_url(attempt), data=answers_for(attempt), follow_redirects=True)
    assert "Course complete! Your certificate is ready." in response.get_data(as_text=True)
    certificate = db.session.scalar(db.select(Certificate))
    assert certificate is not None and certificate.course_id == course.id
    assert services.enrolment_for(learner, course).completed_at is not None


def test_failing_does_not_complete_the_course(client, learner, course):
    for lesson in ("first-lesson", "second-lesson"):
        client.post(f"/courses/intro-course/lessons/{lesson}/done")
    attempt = start(client)
    client.post(submit_url(attempt), data=answers_for(attempt, wrong=lambda item: True))
    assert db.session.scalar(db.select(Certificate)) is None


def test_not_enrolled_is_sent_to_the_course_page(client, auth, course):
    auth.as_user(factories.make_user())
    db.session.commit()
    for response in (client.get(QUIZ_URL), client.post(START_URL)):
        assert response.status_code == 302 and response.headers["Location"] == "/courses/intro-course"
    page = client.get(QUIZ_URL, follow_redirects=True).get_data(as_text=True)
    assert "Enrol in the course to take its quizzes." in page
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 0


def test_unknown_module_and_unpublished_course_are_not_found(client, learner, course):
    assert client.get("/courses/intro-course/modules/nope/quiz").status_code == 404
    attempt = start(client)
    course.published = False
    db.session.commit()
    assert client.get(QUIZ_URL).status_code == 404
    assert client.post(START_URL).status_code == 404
    assert client.get(submit_url(attempt)).status_code == 404


def test_an_empty_bank_refuses_to_start(client, learner, module):
    for question in db.session.scalars(db.select(Question)):
        question.archived_at = utcnow()
    db.session.commit()
    page = client.post(START_URL, follow_redirects=True).get_data(as_text=True)
    assert "This quiz has no questions yet." in page
    assert db.session.scalar(db.select(db.func.count(QuizAttempt.id))) == 0

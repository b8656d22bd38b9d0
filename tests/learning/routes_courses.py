from tests.route_rows import REDIRECT_ALL, SIGNED_IN_200

ROUTES = {
    ("learning.home", "GET"): (lambda w: "/learning", SIGNED_IN_200),
    ("learning.catalogue", "GET"): (lambda w: "/courses?track=cert", SIGNED_IN_200),
    ("learning.course", "GET"): (lambda w: f"/courses/{w.course.slug}", SIGNED_IN_200),
    ("learning.enrol", "POST"): (lambda w: f"/courses/{w.course.slug}/enrol", REDIRECT_ALL),
    # Not enrolled: every signed-in caller is sent to the course page to enrol first.
    ("learning.lesson", "GET"): (lambda w: f"/courses/{w.course.slug}/lessons/first-lesson", REDIRECT_ALL),
    ("learning.mark_done", "POST"): (lambda w: f"/courses/{w.course.slug}/lessons/first-lesson/done", REDIRECT_ALL),
}

"""API resources for courses and the caller's progress."""

from flask import g
from flask_smorest.error_handler import ErrorSchema

from academy.api.auth import api_allow
from academy.api.schemas.learning import CourseQuerySchema, CourseSummarySchema, ProgressSchema
from academy.api.views import BEARER, PEOPLE_TOKENS_ONLY, blp
from academy.core.permissions import SIGNED_IN
from academy.extensions import db
from academy.learning import services
from academy.learning.models import Certificate, Enrolment, Question


@blp.route("/courses", methods=["GET"])
@blp.arguments(CourseQuerySchema, location="query")
@blp.response(200, CourseSummarySchema(many=True))
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description=PEOPLE_TOKENS_ONLY)
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN)
def list_courses(query):
    """Published courses with their modules and the number of lessons and questions."""
    courses = services.published_courses(query.get("track"))
    module_ids = [m.id for c in courses for m in services.live_modules(c)]
    question_counts = (
        dict(
            db.session.execute(
                db.select(Question.module_id, db.func.count(Question.id))
                .where(Question.module_id.in_(module_ids), Question.archived_at.is_(None))
                .group_by(Question.module_id)
            ).all()
        )
        if module_ids
        else {}
    )
    result = []
    for course in courses:
        modules = [
            {
                "slug": m.slug,
                "title": services.localised(m),
                "lessons": len(services.live_lessons(m)),
                "questions": question_counts.get(m.id, 0),
                "questions_per_attempt": m.questions_per_attempt,
                "pass_mark": m.pass_mark,
                "max_attempts": m.max_attempts,
            }
            for m in services.live_modules(course)
        ]
        result.append(
            {
                "slug": course.slug,
                "title": services.localised(course),
                "summary": services.localised(course, "summary"),
                "tracks": course.tracks,
                "modules": modules,
                "lessons": sum(m["lessons"] for m in modules),
                "questions": sum(m["questions"] for m in modules),
            }
        )
    db.session.commit()
    return result


@blp.route("/me/progress", methods=["GET"])
@blp.response(200, ProgressSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Missing, revoked or unknown token")
@blp.alt_response(403, schema=ErrorSchema, description=PEOPLE_TOKENS_ONLY)
@blp.doc(security=BEARER)
@api_allow(SIGNED_IN)
def my_progress():
    """The caller's enrolments: lessons done, quizzes passed, completion and certificate."""
    user = g.api_user
    enrolments = db.session.scalars(
        db.select(Enrolment).where(Enrolment.user_id == user.id).order_by(Enrolment.created_at)
    ).all()
    codes = dict(
        db.session.execute(
            db.select(Certificate.course_id, Certificate.code).where(Certificate.user_id == user.id)
        ).all()
    )
    courses = []
    for enrolment in enrolments:
        progress = services.progress_for(user, enrolment.course)
        courses.append(
            {
                "course_slug": enrolment.course.slug,
                "course_title": services.localised(enrolment.course),
                "enrolled_at": enrolment.created_at,
                "last_activity_at": enrolment.last_activity_at,
                "lessons_done": progress.lessons_done,
                "lessons_total": progress.lessons_total,
                "quizzes_passed": progress.quizzes_passed,
                "quizzes_total": progress.quizzes_total,
                "percent": progress.percent,
                "completed_at": enrolment.completed_at,
                "certificate_code": codes.get(enrolment.course_id),
            }
        )
    db.session.commit()
    return {"user_id": user.id, "courses": courses}

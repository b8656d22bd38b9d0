"""One line per person across the report's courses: the dashboard's staff list and the PDF's people table."""

from dataclasses import dataclass, field
from datetime import datetime

from academy.institutions.reporting import COMPLETE, IN_PROGRESS, NOT_STARTED, ExerciseRow, PersonRow


@dataclass
class PersonSummary:
    """One person across the report's courses: a line of the dashboard's staff table."""

    user_id: int
    name: str
    email: str
    track: str
    track_label: str
    left: bool
    last_activity: datetime | None
    courses: list[PersonRow] = field(default_factory=list)
    exercises: list[ExerciseRow] = field(default_factory=list)

    @property
    def progress_percent(self) -> int | None:
        known = [r.progress_percent for r in self.courses if r.progress_percent is not None]
        return round(sum(known) / len(known)) if known else None

    @property
    def completed(self) -> int:
        return sum(1 for r in self.courses if r.status == COMPLETE)

    @property
    def status(self) -> str:
        if not any(r.status != NOT_STARTED for r in self.courses):
            return NOT_STARTED
        return COMPLETE if self.completed == len(self.courses) else IN_PROGRESS


def people_summaries(rows: list[PersonRow], exercises: list[ExerciseRow]) -> list[PersonSummary]:
    """Group per-course rows by person, in the report's order (by name)."""
    people: dict[int, PersonSummary] = {}
    for row in rows:
        person = people.setdefault(
            row.user_id,
            PersonSummary(row.user_id, row.name, row.email, row.track, row.track_label, row.left, row.last_activity),
        )
        if row.course_slug:
            person.courses.append(row)
    for exercise in exercises:
        if exercise.user_id in people:
            people[exercise.user_id].exercises.append(exercise)
    return list(people.values())

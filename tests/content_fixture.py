"""A small valid courses/ tree that tests load or break in one place."""
import shutil
from pathlib import Path

TRACKS_YML = """\
tracks:
  - code: cert
    title: CERT/CSIRT staff
    summary: For the people who answer incidents.
    courses: [intro-course]
"""

COURSE_YML = """\
slug: intro-course
title: An introduction
summary: A short course for the tests.
tracks: [cert, policy]
published: true
modules:
  - slug: first-module
    title: The first module
    summary: One sentence.
    lessons: [first-lesson, second-lesson]
    quiz:
      pass_mark: 70
      questions_per_attempt: 8
      max_attempts: 3
"""

FIRST_LESSON = """\
---
slug: first-lesson
title: The first lesson
sections: ["§1"]
minutes: 5
---
By the end of this lesson you will be able to explain why it matters (§1).

Read on in [the second lesson](lesson:second-lesson).
"""

SECOND_LESSON = """\
---
slug: second-lesson
title: The second lesson
sections: ["§4.5", "§4.8"]
minutes: 7
---
## Montenegro

| country | CERT |
|---|:-:|
| Montenegro | CIRT.ME |
"""

QUESTIONS = """\
  - slug: single-one
    type: single
    sections: ["§3.1"]
    prompt: When was the Budapest Convention opened for signature?
    options:
      - text: "2001"
        correct: true
      - text: "2004"
      - text: "1981"
    explanation: It was opened in 2001.
  - slug: multiple-one
    type: multiple
    sections: ["§4.8"]
    prompt: Which of these are countries of the report? Select all that apply.
    options:
      - {text: Albania, correct: true}
      - {text: Serbia, correct: true}
      - {text: Austria}
    explanation: Austria is not one of the seven.
  - slug: true-false-one
    type: true_false
    sections: ["§3.2.2"]
    prompt: The NIS Directive was adopted in 2016.
    answer: true
    explanation: It was.
  - slug: ordering-one
    type: ordering
    sections: ["§3.3"]
    prompt: Put these in order, earliest first.
    items: ["first", "second", "third"]
    explanation: That is the order.
  - slug: matching-one
    type: matching
    sections: ["§4.8"]
    prompt: Match each country to its national CERT.
    pairs:
      - {left: Montenegro, right: CIRT.ME}
      - {left: Albania, right: ALCIRT}
      - {left: Croatia, right: CERT.hr}
    explanation: As in Table 1.
"""


def filler(number: int) -> str:
    return f"""\
  - slug: filler-{number}
    type: single
    sections: ["§1"]
    prompt: Filler question {number}?
    options:
      - {{text: right, correct: true}}
      - {{text: wrong}}
      - {{text: also wrong}}
    explanation: Filler.
"""


QUIZ_YML = "module: first-module\nquestions:\n" + QUESTIONS + "".join(filler(n) for n in range(1, 4))

COURSE = "intro-course"


class ContentFolder:
    """A small valid courses/ tree in a folder that a test loads or breaks in one place."""

    def __init__(self, root: Path):
        self.folder = root / "courses"
        self.write("tracks.yml", TRACKS_YML)
        self.write(f"{COURSE}/course.yml", COURSE_YML)
        self.write(f"{COURSE}/lessons/first-lesson.md", FIRST_LESSON)
        self.write(f"{COURSE}/lessons/second-lesson.md", SECOND_LESSON)
        self.write(f"{COURSE}/quizzes/first-module.yml", QUIZ_YML)

    def path(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        self.path(name).parent.mkdir(parents=True, exist_ok=True)
        self.path(name).write_text(text, encoding="utf-8")

    def remove(self, name: str) -> None:
        self.path(name).unlink()

    def copy(self, source: str, target: str) -> None:
        shutil.copytree(self.path(source), self.path(target))

    def edit(self, name: str, old: str, new: str) -> int:
        """Replace the first `old` by `new`; returns the line (1-based) where the change starts."""
        text = self.read(name)
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new, 1))
        return text[: text.index(old)].count("\n") + 1

    def line(self, name: str, needle: str) -> int:
        text = self.read(name)
        assert needle in text, f"{needle!r} not in {name}"
        return text[: text.index(needle)].count("\n") + 1

    def error(self, name: str, line: int, message: str) -> str:
        return f"courses/{name}:{line}: {message}"

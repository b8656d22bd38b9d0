"""Reading courses/ into plain dataclasses and checking all of it, with every error's file and line."""

from dataclasses import dataclass
from pathlib import Path

from academy.core.content import fields
from academy.core.content.files import Problems, YamlDocument, load_with, strings_at
from academy.core.content.markdown import raw_html_lines, render_lesson
from academy.learning import schemas, translations
from academy.learning.models import DEFAULT_REVIEW
from academy.learning.readers import LessonFile, LessonReader, QuizReader, read_yaml
from academy.learning.tree import ContentTree, CourseData, ModuleData, TrackData

MIN_BANK = 8


@dataclass
class _Where:
    """Where an item was written: for messages that point back at it."""

    display: str
    line: int

    def __str__(self) -> str:
        return f"{self.display}:{self.line}"


def load_content(folder: Path | str) -> ContentTree:
    """Read and check a whole content folder; the tree's `errors` lists every problem found."""
    return _Loader(Path(folder)).load()


class _Loader:
    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.problems = Problems()
        self.tree = ContentTree()
        self.course_where: dict[str, _Where] = {}
        self.module_where: dict[str, _Where] = {}
        self.lesson_where: dict[str, _Where] = {}
        self.lesson_files: dict[str, LessonFile] = {}  # by slug: the lessons that links may name
        self.lesson_bodies: list[LessonFile] = []  # every lesson body read, to be rendered and checked
        self.unreadable_courses: set[str] = set()  # folder names whose course.yml already has errors
        self.course_dirs: dict[str, Path] = {}  # by course slug

    def display(self, path: Path) -> str:
        return path.relative_to(self.folder.parent).as_posix()

    def load(self) -> ContentTree:
        if not self.folder.is_dir():
            self.problems.add(self.folder.name, 1, "the content folder does not exist")
        else:
            course_dirs = sorted(p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
            for position, course_dir in enumerate(course_dirs):
                _CourseLoader(self, course_dir, position).load()
            self._load_tracks()
            self._render_lessons()
            self._load_translations()
        self.tree.errors = self.problems.sorted()
        return self.tree

    def claim(self, registry: dict[str, _Where], kind: str, slug: str, where: _Where) -> bool:
        """Record a slug that must be unique across the tree; report it if it is taken."""
        if slug in registry:
            self.problems.add(where.display, where.line, f"duplicate {kind} slug '{slug}' (also at {registry[slug]})")
            return False
        registry[slug] = where
        return True

    def _load_tracks(self) -> None:
        path = self.folder / "tracks.yml"
        display = self.display(path)
        if not path.is_file():
            self.problems.add(display, 1, "the file is missing")
            return
        doc = read_yaml(path, display, self.problems)
        if doc is None:
            return
        loaded, _ = load_with(schemas.TracksFileSchema(), doc.data, doc, display, self.problems)
        codes: set[str] = set()
        for index, raw in enumerate(loaded.get("tracks", [])):
            code = raw.get("code")
            if code is not None and code in codes:
                self.problems.add(display, doc.lines.line(("tracks", index, "code")), f"duplicate track '{code}'")
            codes.add(code)
            for position, slug in strings_at(doc.data, ("tracks", index, "courses")):
                known = slug in self.course_where or slug in self.unreadable_courses
                if fields.SLUG_RE.match(slug) and not known:
                    line = doc.lines.line(("tracks", index, "courses", position))
                    self.problems.add(display, line, f"unknown course '{slug}'")
            if {"code", "title", "summary", "courses"} <= raw.keys():
                self.tree.tracks.append(
                    TrackData(
                        code=code,
                        title=raw["title"],
                        summary=raw["summary"],
                        course_slugs=raw["courses"],
                        position=index,
                    )
                )

    def _load_translations(self) -> None:
        for course in self.tree.courses:
            found = translations.load_translations(self.course_dirs[course.slug], course, self.display, self.problems)
            self.tree.translations += found

    def _render_lessons(self) -> None:
        lesson_courses = {slug: source.course_slug for slug, source in self.lesson_files.items()}
        for source in self.lesson_bodies:
            lesson = source.lesson
            for line, text in enumerate(lesson.body_markdown.splitlines()):
                for ref in fields.unknown_inline_sections(text):
                    self.problems.add(source.display, source.body_line + line, f"unknown section reference '{ref}'")
            for line in raw_html_lines(lesson.body_markdown):
                self.problems.add(source.display, source.body_line + line, "raw HTML is not allowed; write Markdown")
            rendered = render_lesson(lesson.body_markdown, lesson_courses)
            for line, slug in rendered.unknown_lessons:
                self.problems.add(source.display, source.body_line + line, f"link to unknown lesson '{slug}'")
            for line, url in rendered.external_images:
                self.problems.add(
                    source.display,
                    source.body_line + line,
                    f"image from another site '{url}': pages may only show the academy's own images",
                )
            for line, url in rendered.refused_urls:
                self.problems.add(
                    source.display,
                    source.body_line + line,
                    f"address '{url}' is not allowed: link with lesson:, https:// or a path starting "
                    f"with one '/'; show images from /static/ only",
                )
            lesson.body_html = rendered.html


class _CourseLoader:
    """One course folder: course.yml, its lessons and its quizzes."""

    def __init__(self, owner: _Loader, course_dir: Path, position: int):
        self.owner = owner
        self.problems = owner.problems
        self.dir = course_dir
        self.position = position
        self.complete = False  # until course.yml's modules all read well: else missing links may be echoes
        self.modules: dict[str, tuple[ModuleData, _Where]] = {}
        self.module_lessons: dict[str, list[tuple[str, int]]] = {}  # module slug -> (lesson slug, line)
        self.lessons: dict[str, LessonFile] = {}
        self.quizzes: set[str] = set()
        self.course_display = ""

    def load(self) -> None:
        course = self._load_course_file()
        if course is None:
            self.owner.unreadable_courses.add(self.dir.name)
        self._load_lessons()
        self._load_quizzes()
        if course is not None:
            self._link_lessons(course)
            self._check_every_module_has_a_quiz()
            self.owner.tree.courses.append(course)
            self.owner.course_dirs[course.slug] = self.dir

    def _load_course_file(self) -> CourseData | None:
        path = self.dir / "course.yml"
        display = self.owner.display(path)
        if not path.is_file():
            self.problems.add(display, 1, "the file is missing")
            return None
        doc = read_yaml(path, display, self.problems)
        if doc is None:
            return None
        self.course_display = display
        loaded, _ = load_with(schemas.CourseSchema(), doc.data, doc, display, self.problems)
        slug = loaded.get("slug")
        if slug and slug != self.dir.name:
            self.problems.add(
                display, doc.lines.line(("slug",)), f"slug '{slug}' does not match the folder name '{self.dir.name}'"
            )
        if not slug or not self.owner.claim(
            self.owner.course_where, "course", slug, _Where(display, doc.lines.line(("slug",)))
        ):
            return None
        course = CourseData(
            slug=slug,
            title=loaded.get("title", ""),
            summary=loaded.get("summary", ""),
            tracks=loaded.get("tracks", []),
            published=loaded.get("published", False),
            position=self.position,
        )
        for index, raw in enumerate(loaded.get("modules", [])):
            self._add_module(course, index, raw, doc)
        self.complete = self._every_module_read(doc, course)
        return course

    def _every_module_read(self, doc: YamlDocument, course: CourseData) -> bool:
        raw_modules = doc.data.get("modules") if isinstance(doc.data, dict) else None
        if not isinstance(raw_modules, list) or len(raw_modules) != len(course.modules):
            return False
        return all(
            isinstance(raw, dict)
            and isinstance(raw.get("lessons"), list)
            and len(raw["lessons"]) == len(self.module_lessons[module.slug])
            for raw, module in zip(raw_modules, course.modules, strict=True)
        )

    def _add_module(self, course: CourseData, index: int, raw: dict, doc: YamlDocument) -> None:
        slug, quiz = raw.get("slug"), raw.get("quiz", {})
        where = _Where(self.course_display, doc.lines.line(("modules", index)))
        if not slug or not self.owner.claim(self.owner.module_where, "module", slug, where):
            return
        module = ModuleData(
            slug=slug,
            title=raw.get("title", ""),
            summary=raw.get("summary", ""),
            pass_mark=quiz.get("pass_mark", 0),
            max_attempts=quiz.get("max_attempts", 0),
            questions_per_attempt=quiz.get("questions_per_attempt", 0),
            position=index,
            review=quiz.get("review", DEFAULT_REVIEW),
        )
        course.modules.append(module)
        self.module_lessons[slug] = [
            (lesson, doc.lines.line(("modules", index, "lessons", position)))
            for position, lesson in strings_at(doc.data, ("modules", index, "lessons"))
            if fields.is_slug(lesson)
        ]
        self.modules[slug] = (module, where)

    def _load_lessons(self) -> None:
        for path in _files(self.dir / "lessons"):
            display = self.owner.display(path)
            if path.suffix != ".md":
                self.problems.add(display, 1, "unexpected file: lessons are <lesson-slug>.md")
                continue
            source = LessonReader(path, display, self.problems).read(self.dir.name)
            if source is None:
                continue
            self.owner.lesson_bodies.append(source)
            slug = source.lesson.slug
            if slug and self.owner.claim(self.owner.lesson_where, "lesson", slug, _Where(display, source.slug_line)):
                self.lessons[slug] = source
                self.owner.lesson_files[slug] = source

    def _load_quizzes(self) -> None:
        for path in _files(self.dir / "quizzes"):
            display = self.owner.display(path)
            if path.suffix != ".yml":
                self.problems.add(display, 1, "unexpected file: quizzes are <module-slug>.yml")
                continue
            doc = read_yaml(path, display, self.problems)
            if doc is not None:
                self._load_quiz(path, display, doc)

    def _load_quiz(self, path: Path, display: str, doc: YamlDocument) -> None:
        loaded, _ = load_with(schemas.QuizFileSchema(), doc.data, doc, display, self.problems)
        questions = QuizReader(doc, display, self.problems).questions(loaded.get("questions", []))
        slug = loaded.get("module")
        if slug is None:
            return
        line = doc.lines.line(("module",))
        if slug != path.stem:
            self.problems.add(display, line, f"module '{slug}' does not match the file name '{path.name}'")
        if slug not in self.modules:
            where = self.owner.module_where.get(slug)
            elsewhere = f" (it belongs to {where.display})" if where else ""
            if where or self.complete:
                self.problems.add(display, line, f"quiz for unknown module '{slug}' in this course{elsewhere}")
            return
        if slug in self.quizzes:
            self.problems.add(display, line, f"a second quiz for module '{slug}'")
            return
        self.quizzes.add(slug)
        module = self.modules[slug][0]
        module.questions = questions
        wanted, bank = max(MIN_BANK, module.questions_per_attempt), len(loaded.get("questions", []))
        if "questions" in loaded and bank < wanted:
            self.problems.add(
                display,
                doc.lines.line(("questions",)),
                f"the bank has {bank} questions; it needs at least {MIN_BANK} "
                f"and at least questions_per_attempt ({module.questions_per_attempt})",
            )

    def _link_lessons(self, course: CourseData) -> None:
        for module in course.modules:
            for slug, line in self.module_lessons[module.slug]:
                source = self.lessons.get(slug)
                if source is None and not (self.dir / "lessons" / f"{slug}.md").exists():
                    self.problems.add(self.course_display, line, f"lesson '{slug}' has no file lessons/{slug}.md")
                elif source is None:
                    continue  # the file has errors of its own, reported where they are
                elif source.listed:
                    self.problems.add(self.course_display, line, f"lesson '{slug}' is listed by two modules")
                else:
                    source.listed = True
                    source.lesson.position = len(module.lessons)
                    module.lessons.append(source.lesson)
        for slug, source in self.lessons.items():
            if not source.listed and self.complete:
                self.problems.add(source.display, source.slug_line, f"lesson '{slug}' is not listed by any module")

    def _check_every_module_has_a_quiz(self) -> None:
        for slug, (_, where) in self.modules.items():
            if slug not in self.quizzes and not (self.dir / "quizzes" / f"{slug}.yml").exists():
                self.problems.add(where.display, where.line, f"module '{slug}' has no quiz file quizzes/{slug}.yml")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))

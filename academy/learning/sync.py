"""Syncing a checked content folder into the database: upsert by slug, archive what disappeared."""

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from academy.core.content.files import ContentInvalid
from academy.core.content.translation_sync import sync_translations
from academy.core.models import utcnow
from academy.extensions import db
from academy.learning.content import load_content
from academy.learning.models import ContentRelease, Course, Lesson, Module, Question, Track
from academy.learning.translations import translated_rows
from academy.learning.tree import ContentTree

OUTCOMES = ("created", "updated", "archived", "unchanged")


@dataclass
class SyncReport:
    release: ContentRelease
    counts: dict[str, Counter] = field(default_factory=dict)

    def total(self, outcome: str) -> int:
        return sum(counter[outcome] for counter in self.counts.values())


@dataclass
class _Item:
    """One item to upsert: its key, the columns it sets, and the parent the hash also covers."""

    key: object
    values: dict
    parent: str | None = None
    links: dict = field(default_factory=dict)  # foreign keys: set on the row, left out of the hash

    @property
    def digest(self) -> str:
        payload = json.dumps({"values": self.values, "parent": self.parent}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def sync_content(folder: Path | str) -> SyncReport:
    """Check the folder, then upsert it in the session's transaction; flushes, the caller commits."""
    tree = load_content(folder)
    if tree.errors:
        raise ContentInvalid(tree.errors)
    sync = _Sync()
    courses = sync.upsert("courses", Course, lambda row: row.slug, _course_items(tree))
    modules = sync.upsert("modules", Module, lambda row: row.slug, _module_items(tree, courses))
    sync.upsert("lessons", Lesson, lambda row: row.slug, _lesson_items(tree, modules))
    sync.upsert("questions", Question, lambda row: (row.module_id, row.slug), _question_items(tree, modules))
    sync.upsert("tracks", Track, lambda row: row.code, _track_items(tree))
    sync.counts["translations"] = sync_translations(COURSE_KINDS, _translation_rows(tree))
    release = ContentRelease(
        tree_hash=sync.tree_hash(),
        detail={k: dict(v) for k, v in sync.counts.items()},
        **{outcome: sum(c[outcome] for c in sync.counts.values()) for outcome in OUTCOMES},
    )
    db.session.add(release)
    db.session.flush()
    return SyncReport(release=release, counts=sync.counts)


class _Sync:
    def __init__(self) -> None:
        self.now = utcnow()
        self.counts: dict[str, Counter] = {}
        self.digests: list[str] = []

    def upsert(self, kind: str, model, key_of, items: list[_Item]) -> dict:
        """Create, update or leave each item; archive the rows whose key is gone; return rows by key."""
        counts = self.counts.setdefault(kind, Counter(dict.fromkeys(OUTCOMES, 0)))
        existing = {key_of(row): row for row in db.session.scalars(db.select(model))}
        rows = {}
        for item in items:
            digest = item.digest
            self.digests.append(f"{kind}:{digest}")
            row = existing.get(item.key)
            if row is None:
                row = model(**item.values, **item.links, content_hash=digest, created_at=self.now, updated_at=self.now)
                db.session.add(row)
                counts["created"] += 1
            elif row.content_hash != digest or row.archived_at is not None or _links_moved(row, item):
                for name, value in {**item.values, **item.links}.items():
                    setattr(row, name, value)
                row.content_hash, row.archived_at, row.updated_at = digest, None, self.now
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
            rows[item.key] = row
        for key, row in existing.items():
            if key not in rows and row.archived_at is None:
                row.archived_at = self.now
                counts["archived"] += 1
        db.session.flush()
        return rows

    def tree_hash(self) -> str:
        return hashlib.sha256("\n".join(sorted(self.digests)).encode("utf-8")).hexdigest()


def _links_moved(row, item: _Item) -> bool:
    return any(getattr(row, name) != value for name, value in item.links.items())


def _course_items(tree: ContentTree) -> list[_Item]:
    return [
        _Item(
            course.slug,
            {
                "slug": course.slug,
                "title": course.title,
                "summary": course.summary,
                "tracks": course.tracks,
                "published": course.published,
                "position": course.position,
            },
        )
        for course in tree.courses
    ]


def _module_items(tree: ContentTree, courses: dict) -> list[_Item]:
    return [
        _Item(
            module.slug,
            {
                "slug": module.slug,
                "title": module.title,
                "summary": module.summary,
                "position": module.position,
                "pass_mark": module.pass_mark,
                "questions_per_attempt": module.questions_per_attempt,
                "max_attempts": module.max_attempts,
                "review": module.review,
            },
            parent=course.slug,
            links={"course_id": courses[course.slug].id},
        )
        for course in tree.courses
        for module in course.modules
    ]


def _lesson_items(tree: ContentTree, modules: dict) -> list[_Item]:
    return [
        _Item(
            lesson.slug,
            {
                "slug": lesson.slug,
                "title": lesson.title,
                "sections": lesson.sections,
                "minutes": lesson.minutes,
                "body_markdown": lesson.body_markdown,
                "body_html": lesson.body_html,
                "position": lesson.position,
            },
            parent=module.slug,
            links={"module_id": modules[module.slug].id},
        )
        for module in tree.modules
        for lesson in module.lessons
    ]


def _question_items(tree: ContentTree, modules: dict) -> list[_Item]:
    items = []
    for module in tree.modules:
        module_id = modules[module.slug].id
        items += [
            _Item(
                (module_id, question.slug),
                {
                    "slug": question.slug,
                    "type": question.type,
                    "prompt": question.prompt,
                    "sections": question.sections,
                    "explanation": question.explanation,
                    "hint": question.hint,
                    "data": question.data,
                    "position": question.position,
                },
                parent=module.slug,
                links={"module_id": module_id},
            )
            for question in module.questions
        ]
    return items


COURSE_KINDS = ("course", "module", "lesson", "question", "coverage-course")


def _translation_rows(tree: ContentTree) -> list[dict]:
    lesson_courses = {
        lesson.slug: course.slug for course in tree.courses for m in course.modules for lesson in m.lessons
    }
    courses = {course.slug: course for course in tree.courses}
    return [
        row
        for translation in tree.translations
        for row in translated_rows(courses[translation.course], translation, lesson_courses)
    ]


def _track_items(tree: ContentTree) -> list[_Item]:
    return [
        _Item(
            track.code,
            {
                "code": track.code,
                "title": track.title,
                "summary": track.summary,
                "course_slugs": track.course_slugs,
                "position": track.position,
            },
        )
        for track in tree.tracks
    ]

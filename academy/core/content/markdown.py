"""Lesson Markdown to safe HTML: CommonMark and tables, no raw HTML, checked links.

The live exercises' Markdown (scenario briefs and injects, the trainer's ad-hoc injects) goes through it too."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

LESSON_SCHEME = "lesson:"
EXTERNAL_REL = "noopener noreferrer"
ALIGN_CLASSES = {"text-align:left": "text-start", "text-align:center": "text-center", "text-align:right": "text-end"}
# Every tag CommonMark and its table extension produce, and nothing else.
ALLOWED_TAGS = {
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "a",
    "img",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "rel"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
ALLOWED_CLASSES = {"th": set(ALIGN_CLASSES.values()), "td": set(ALIGN_CLASSES.values())}
# An image loads by itself in every reader's browser, signed in: only the academy's own static files, never one of
# its pages (![x](/institutions/1/reports/completion?format=pdf) made every participant download a report). Each
# segment starts with a letter, digit, _ or -, so none is "." or ".."; no query, no fragment, no %-escape.
STATIC_IMAGE = re.compile(r"/static/(?:[\w-][\w.-]*/)*[\w-][\w.-]*", re.ASCII)
# A link inside the academy: one "/" and no second one after it, since browsers read "//x" and "/\x" as the site x.
IN_APP_PATH = re.compile(r"/(?![/\\])")

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
# Only used to find raw HTML in the source, which the renderer above would show as text.
_html_finder = MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass
class Rendered:
    html: str
    # (0-based line of the body, lesson slug) of each lesson: link that names no lesson
    unknown_lessons: list[tuple[int, str]] = field(default_factory=list)
    # (0-based line of the body, URL) of each image from another site: the Content-Security-Policy blocks them
    external_images: list[tuple[int, str]] = field(default_factory=list)
    # (0-based line of the body, URL) of each other link or image that is dropped (see _allowed_link, _allowed_image)
    refused_urls: list[tuple[int, str]] = field(default_factory=list)


def lesson_url(course_slug: str, lesson_slug: str) -> str:
    return f"/courses/{course_slug}/lessons/{lesson_slug}"


def render_lesson(body: str, lesson_courses: Mapping[str, str]) -> Rendered:
    """Render a lesson body; `lesson_courses` maps each lesson slug to its course slug."""
    result = Rendered(html="")
    lines = body.splitlines()
    tokens = _markdown.parse(body)
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            _align_with_class(token)
        if token.type == "inline" and token.children:
            token.children = _checked_links(token, lines, lesson_courses, result)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    result.html = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https"},
        link_rel=None,
    )
    return result


def raw_html_lines(body: str) -> list[int]:
    """0-based lines of the body where raw HTML starts (README: "No raw HTML")."""
    found = []
    for token in _html_finder.parse(body):
        if token.type == "html_block" or (
            token.type == "inline" and any(child.type == "html_inline" for child in token.children or ())
        ):
            assert token.map is not None  # this parser's html_block and inline tokens always carry their lines
            found.append(token.map[0])
    return found


def _align_with_class(token: Token) -> None:
    # Table alignment arrives as a style attribute; a class keeps CSS out of the allowed attributes.
    style = token.attrs.pop("style", None)
    if style in ALIGN_CLASSES:
        token.attrs["class"] = ALIGN_CLASSES[style]


def _checked_links(inline: Token, lines: list[str], lesson_courses, result: Rendered) -> list[Token]:
    assert inline.children is not None  # render() passes only inline tokens that have children
    kept: list[Token] = []
    dropping = False
    for child in inline.children:
        if child.type == "link_open":
            dropping = not _rewrite_href(child, "href", inline, lines, lesson_courses, result)
            if dropping:
                continue
        elif child.type == "link_close" and dropping:
            dropping = False
            continue
        elif child.type == "image" and not _rewrite_href(child, "src", inline, lines, lesson_courses, result):
            child = Token("text", "", 0, content=child.content)
        kept.append(child)
    return kept


def _rewrite_href(token: Token, attr: str, inline: Token, lines, lesson_courses, result: Rendered) -> bool:
    """Rewrite or vet one URL in place; False means the link or image must go."""
    url = str(token.attrs.get(attr, ""))
    if attr == "src":
        if _allowed_image(url):
            return True
        parts = urlsplit(url)
        found = result.external_images if parts.netloc or parts.scheme in ("http", "https") else result.refused_urls
        found.append((_line_of(url, inline, lines), url))
        return False
    if url.startswith(LESSON_SCHEME):
        slug = url[len(LESSON_SCHEME) :]
        if slug not in lesson_courses:
            result.unknown_lessons.append((_line_of(url, inline, lines), slug))
            return False
        token.attrs[attr] = lesson_url(lesson_courses[slug], slug)
        return True
    if not _allowed_link(url):
        result.refused_urls.append((_line_of(url, inline, lines), url))
        return False
    if urlsplit(url).scheme:
        token.attrs["rel"] = EXTERNAL_REL
    return True


def _allowed_image(url: str) -> bool:
    return STATIC_IMAGE.fullmatch(url) is not None


def _allowed_link(url: str) -> bool:
    """Another site over http(s), or a path of the academy; nothing relative to the page, no other scheme."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    # Judged as written: markdown-it has %-escaped the URL ("/\x" is now "/%5Cx").
    path = unquote(url)
    return IN_APP_PATH.match(path) is not None and "\\" not in path


def _line_of(needle: str, inline: Token, lines: list[str]) -> int:
    start, end = inline.map or (0, 0)
    for number in range(start, min(end, len(lines))):
        if needle in lines[number]:
            return number
    return start

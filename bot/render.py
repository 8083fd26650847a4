"""Answers as Matrix messages: Markdown → sanitised HTML plus a plain-text body.

Only tags Matrix clients allow survive (spec 'm.room.message' HTML subset), links only http(s);
raw HTML in the text is escaped, never interpreted. Sources are numbered links to
service-public.fr with the fiche date; a last line reminds that the text is a draft to check.
Long answers are split on paragraph boundaries, well under Matrix's 64 KiB event limit.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

from bot import texts
from chains.models import Answer, Source

ALLOWED_TAGS = {
    "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
    "sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div",
    "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span", "details", "summary",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "code": {"class"},
    "span": {"data-mx-color", "data-mx-bg-color"},
    "font": {"data-mx-color", "data-mx-bg-color", "color"},
}
URL_SCHEMES = {"http", "https"}


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    html: str

    def content(self, msgtype: str = "m.text") -> dict:
        return {
            "msgtype": msgtype,
            "body": self.body,
            "format": "org.matrix.custom.html",
            "formatted_body": self.html,
        }


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.enable("table")
    md.enable("strikethrough")
    return md


def sanitize(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
        strip_comments=True,
    )


def markdown_to_html(text: str) -> str:
    return sanitize(_markdown().render(text)).strip()


def format_date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return value


def _safe_url(url: str) -> str | None:
    return url if url.startswith(("https://", "http://")) else None


def sources_markdown(sources: list[Source], *, excerpts: bool = False) -> str:
    """Numbered source lines, as Markdown (escaped titles, checked URLs)."""
    lines = []
    for s in sources:
        title = s.title.replace("[", "(").replace("]", ")")
        url = _safe_url(s.url)
        line = f"{s.n}. [{title}]({url})" if url else f"{s.n}. {title}"
        if s.section:
            line += f" — {s.section}"
        if s.date:
            line += " (" + texts.FICHE_DATE.format(date=format_date(s.date)) + ")"
        lines.append(line)
        if excerpts and s.excerpt:
            excerpt = " ".join(s.excerpt.split())[:400]
            lines.append(f"   > {excerpt}")
    return "\n".join(lines)


def split_text(text: str, limit: int) -> list[str]:
    """Split on paragraph, then line, then word boundaries into parts of at most `limit`."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for separator, pieces in (("\n\n", text.split("\n\n")),):
        for piece in pieces:
            candidate = f"{current}{separator}{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
                continue
            if current:
                parts.append(current)
            while len(piece) > limit:
                cut = piece.rfind("\n", 0, limit)
                if cut <= 0:
                    cut = piece.rfind(" ", 0, limit)
                if cut <= 0:
                    cut = limit
                parts.append(piece[:cut].rstrip())
                piece = piece[cut:].lstrip()
            current = piece
    if current:
        parts.append(current)
    return parts


def render_answer(answer: Answer, *, max_chars: int = 12000) -> list[Rendered]:
    """The messages of one answer: text parts, then the sources and the draft reminder."""
    tail_md = ""
    shown = [s for s in answer.sources if s.cited] or answer.sources  # only those used
    if shown:
        tail_md += texts.SOURCES_HEADING + "\n\n" + sources_markdown(shown)
    if answer.flagged:
        figures = ", ".join(html.escape(f) for f in answer.flagged)
        tail_md += "\n\n*" + texts.TO_CHECK.format(figures=figures) + "*"
    if answer.status == "answered":
        tail_md += (
            "\n\n*" + texts.DRAFT_REMINDER.get(answer.mode, texts.DRAFT_REMINDER["question"]) + "*"
        )
    tail_md = tail_md.strip()
    parts = split_text(answer.text.strip(), max_chars)
    if tail_md and len(parts[-1]) + len(tail_md) + 2 <= max_chars:
        parts[-1] = f"{parts[-1]}\n\n{tail_md}"
    elif tail_md:
        parts.append(tail_md)
    if len(parts) > 1:
        total = len(parts)
        parts = [
            f"{p}\n\n*{texts.PART_OF.format(i=i, total=total)}*" for i, p in enumerate(parts, 1)
        ]
    return [render_markdown(p) for p in parts]


def render_markdown(text: str) -> Rendered:
    """A plain body (the Markdown source) and its sanitised HTML."""
    return Rendered(body=text, html=markdown_to_html(text))


def render_notice(text: str) -> Rendered:
    return render_markdown(text)

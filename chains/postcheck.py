"""Post-checks of a generated draft against the sources it was given.

1. Citations: every [n] must be the number of a retrieved source; unknown numbers are
   dropped from the text. Sources are then numbered in the order the text first cites them
   (the [n] in the text renumbered to match `Source.n`), then the uncited ones, kept with
   `cited=False`: they were retrieved and passed the relevance gate, so the bot may show
   them as "voir aussi", but they never count as the answer's basis. A cited source whose
   first quoted sentence comes from another section than the retriever's best chunk names
   that section (the source line says where the quote is).
2. Links: every URL in the text must be a source's fiche URL or one of its online services
   (compared without scheme, "www." and trailing slash); other URLs are removed (a Markdown
   link keeps its label).
3. Figures: every amount (€, euros), percentage and date in the text must appear in the text
   of a cited source (all sources when nothing is cited); otherwise it is marked
   "(à vérifier)" in the text and listed in `flagged`. Numbers are normalised the French way
   ("1 234,56 €" = "1234.56 euros", narrow no-break spaces, "25 €" = "25 euros").

`checks` counts what each check saw and changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from chains.models import Source
from chains.prompts import FLAG_MARK, SourceContext

# ---------------------------------------------------------------------------------- numbers

_DIGIT_RE = re.compile(r"\d")
URL_RE = re.compile(r"https?://[^\s<>()\[\]\"'`«»]+", re.IGNORECASE)

_SPACES = "\u00a0\u202f\u2009 "
_NUM = rf"(?<![\d,.])(?:\d{{1,3}}(?:[{_SPACES}.]\d{{3}})+(?:,\d+)?|\d+(?:[,.]\d+)?)"
_SCALE = r"(?:\s*(?P<scale>millions?|milliards?|k)\s*(?:d['’]\s*|de\s+)?)?"
AMOUNT_RE = re.compile(
    rf"(?P<num>{_NUM}){_SCALE}\s*(?P<unit>€|euros?\b|EUR\b)|(?P<pre>€)\s*(?P<num2>{_NUM})",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(rf"(?P<num>{_NUM})\s*(?:%|pour\s?cent\b|p\.\s?100\b)", re.IGNORECASE)
_MONTHS = {
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
DATE_RE = re.compile(
    rf"\b(?P<d>\d{{1,2}})(?:er)?\s+(?P<m>{_MONTH_ALT})(?:\s+(?P<y>\d{{4}}))?\b"
    r"|\b(?P<d2>\d{1,2})/(?P<m2>\d{1,2})/(?P<y2>\d{4})\b"
    r"|\b(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})\b",
    re.IGNORECASE,
)


def parse_number(raw: str) -> Decimal | None:
    """'1 234,56' -> 1234.56, '1.234' -> 1234, '8,5' -> 8.5, '86,00' -> 86."""
    s = raw
    for sp in _SPACES:
        s = s.replace(sp, "")
    if "," in s:
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", s):
        s = s.replace(".", "")
    try:
        return Decimal(s).normalize()
    except InvalidOperation:
        return None


_SCALES = {"k": Decimal(1000), "million": Decimal(10**6), "milliard": Decimal(10**9)}


@dataclass(frozen=True, slots=True)
class Figure:
    kind: str  # "amount", "percent", "date"
    key: str  # normalised value, e.g. "amount:1234.56", "date:2021-01-01", "date:--01-01"
    start: int
    end: int
    raw: str


def _fmt(d: Decimal) -> str:
    return format(d, "f")


def find_figures(text: str) -> list[Figure]:
    """Amounts, percentages and dates in `text`, in order, not overlapping (never inside a
    URL: "%C3%A9" is no percentage)."""
    if not _DIGIT_RE.search(text):
        return []
    if "://" in text:
        text = URL_RE.sub(lambda m: " " * len(m.group(0)), text)
    found: list[Figure] = []
    for m in AMOUNT_RE.finditer(text):
        raw_num = m.group("num") or m.group("num2")
        value = parse_number(raw_num)
        if value is None:
            continue
        scale = (m.group("scale") or "").lower().rstrip("s")
        if scale:
            value = (value * _SCALES[scale]).normalize()
        found.append(Figure("amount", f"amount:{_fmt(value)}", m.start(), m.end(), m.group(0)))
    for m in PERCENT_RE.finditer(text):
        value = parse_number(m.group("num"))
        if value is not None:
            found.append(
                Figure("percent", f"percent:{_fmt(value)}", m.start(), m.end(), m.group(0))
            )
    for m in DATE_RE.finditer(text):
        if m.group("m"):
            d, mo, y = int(m.group("d")), _MONTHS[m.group("m").lower()], m.group("y")
        elif m.group("m2"):
            d, mo, y = int(m.group("d2")), int(m.group("m2")), m.group("y2")
        else:
            d, mo, y = int(m.group("d3")), int(m.group("m3")), m.group("y3")
        if not (1 <= d <= 31 and 1 <= mo <= 12):
            continue
        key = f"date:{y}-{mo:02d}-{d:02d}" if y else f"date:--{mo:02d}-{d:02d}"
        found.append(Figure("date", key, m.start(), m.end(), m.group(0)))
    found.sort(key=lambda f: (f.start, -f.end))
    out: list[Figure] = []
    last_end = -1
    for f in found:
        if f.start >= last_end:
            out.append(f)
            last_end = f.end
    return out


@lru_cache(maxsize=16384)
def _text_figure_keys(text: str) -> frozenset[str]:
    keys: set[str] = set()
    for f in find_figures(text):
        keys.add(f.key)
        if f.kind == "date" and not f.key.startswith("date:--"):
            keys.add("date:--" + f.key[len("date:") + 5 :])
    return frozenset(keys)


def figure_keys(texts: Iterable[str]) -> set[str]:
    """Every figure key found in `texts`; a full date also yields its day-month key.
    (Cached per text: the same chunks come back for many questions.)"""
    keys: set[str] = set()
    for text in texts:
        if text:
            keys |= _text_figure_keys(text)
    return keys


# ---------------------------------------------------------------------------------- URLs

MD_LINK_RE = re.compile(r"\[([^\]\n]{1,300})\]\((https?://[^)\s]+)\)", re.IGNORECASE)
_TRAILING = ".,;:!?…"


def normalise_url(url: str) -> str:
    u = url.strip().rstrip(_TRAILING)
    u = re.sub(r"^https?://", "", u, flags=re.IGNORECASE)
    host, _, rest = u.partition("/")
    host = host.lower()
    host = host.removeprefix("www.")
    rest = rest.rstrip("/")
    return f"{host}/{rest}" if rest else host


def allowed_urls(sources: Sequence[Source]) -> set[str]:
    out: set[str] = set()
    for s in sources:
        if s.url:
            out.add(normalise_url(s.url))
        for sv in s.services:
            if sv.get("url"):
                out.add(normalise_url(sv["url"]))
    return out


def urls_in(text: str) -> list[str]:
    return [m.group(0).rstrip(_TRAILING) for m in URL_RE.finditer(text)]


# ---------------------------------------------------------------------------------- citations

CITATION_RE = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\](?!\()")


def cited_numbers(text: str) -> list[int]:
    """Citation numbers in order of first appearance."""
    seen: list[int] = []
    for m in CITATION_RE.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part.strip())
            if n not in seen:
                seen.append(n)
    return seen


def renumber_citations(text: str, new_n: dict[int, int]) -> str:
    """Rewrite every [n] (and [n, m]) with the numbers of `new_n`."""

    def repl(m: re.Match) -> str:
        parts = [int(p.strip()) for p in re.split(r"[,;]", m.group(1))]
        return "[" + ", ".join(str(new_n.get(p, p)) for p in parts) + "]"

    return CITATION_RE.sub(repl, text)


# ---------------------------------------------------------------------------------- the checks


@dataclass(slots=True)
class CheckResult:
    text: str
    sources: list[Source]
    flagged: list[str] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)


_NESTED_ITEM_RE = re.compile(r"^( +)(?=(?:[-*+]|\d{1,2}[.)]) )")


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+([.,])(?=\s|$)", r"\1", text)
    text = text.replace("\t", "  ")
    # runs of spaces inside a line only; a nested list item keeps its indentation, which is
    # what nests it (collapsed, the items of a lead-in rendered as its siblings in Tchap);
    # any other line's is cut to one space (four would open a code block)
    text = re.sub(r"(?<=\S) {2,}", " ", text)
    text = "\n".join(
        line if _NESTED_ITEM_RE.match(line) else re.sub(r"^ {2,}", " ", line)
        for line in text.splitlines()
    )
    text = re.sub(r"\(\s*\)", "", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def check_citations(text: str, known: set[int]) -> tuple[str, int, int]:
    """Drop unknown citation numbers. Returns (text, citations seen, citations dropped)."""
    seen = dropped = 0

    def repl(m: re.Match) -> str:
        nonlocal seen, dropped
        kept = []
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part.strip())
            seen += 1
            if n in known:
                kept.append(str(n))
            else:
                dropped += 1
        return "[" + ", ".join(kept) + "]" if kept else ""

    return CITATION_RE.sub(repl, text), seen, dropped


def check_urls(text: str, allowed: set[str]) -> tuple[str, int, int]:
    """Remove URLs that are not the sources'. Returns (text, URLs seen, URLs removed)."""
    seen = removed = 0

    def md(m: re.Match) -> str:
        nonlocal seen, removed
        seen += 1
        if normalise_url(m.group(2)) in allowed:
            return m.group(0)
        removed += 1
        return m.group(1)

    text = MD_LINK_RE.sub(md, text)
    # Markdown links already counted: mask them while scanning bare URLs.
    kept_links: list[str] = []

    def mask(m: re.Match) -> str:
        kept_links.append(m.group(0))
        return f"\x00{len(kept_links) - 1}\x00"

    masked = MD_LINK_RE.sub(mask, text)

    def bare(m: re.Match) -> str:
        nonlocal seen, removed
        raw = m.group(0)
        url = raw.rstrip(_TRAILING)
        tail = raw[len(url) :]
        seen += 1
        if normalise_url(url) in allowed:
            return raw
        removed += 1
        return tail

    masked = URL_RE.sub(bare, masked)
    masked = re.sub(r"<\s*>", "", masked)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept_links[int(m.group(1))], masked), seen, removed


def check_figures(text: str, reference_keys: set[str]) -> tuple[str, int, list[str]]:
    """Mark figures absent from the reference. Returns (text, figures seen, flagged raws)."""
    figures = find_figures(text)
    flagged: list[str] = []
    out = text
    for f in reversed(figures):
        if f.key in reference_keys:
            continue
        after = out[f.end : f.end + len(FLAG_MARK) + 2]
        if FLAG_MARK not in after:
            out = out[: f.end] + f" {FLAG_MARK}" + out[f.end :]
        flagged.append(f.raw)
    flagged.reverse()
    return out, len(figures), flagged


def postcheck(text: str, contexts: Sequence[SourceContext]) -> CheckResult:
    """Run the three checks on a draft given the sources (with their texts) it was built on."""
    sources = [c.source for c in contexts]
    known = {s.n for s in sources}
    text, n_cit, n_dropped = check_citations(text, known)
    cited = [n for n in cited_numbers(text) if n in known]

    text, n_urls, n_removed = check_urls(text, allowed_urls(sources))

    basis = [c for c in contexts if c.source.n in cited] or list(contexts)
    ref_texts: list[str] = []
    for c in basis:
        ref_texts.append(c.text)
        ref_texts.append(c.source.excerpt)
        ref_texts.append(c.source.title)
        ref_texts.extend(sv.get("title") or "" for sv in c.source.services)
    text, n_fig, flagged = check_figures(text, figure_keys(ref_texts))

    # Sources are numbered in the order the text first cites them; uncited ones follow.
    by_n = {s.n: s for s in sources}
    for c in contexts:
        section = quoted_section(text, c) if c.source.n in cited else None
        if section is not None and section != c.source.section:
            by_n[c.source.n] = by_n[c.source.n].model_copy(update={"section": section})
    order = [*cited, *(s.n for s in sources if s.n not in cited)]
    new_n = {old: i for i, old in enumerate(order, start=1)}
    text = renumber_citations(text, new_n)
    ordered = [
        by_n[old].model_copy(update={"n": new_n[old], "cited": old in cited}) for old in order
    ]
    checks = {
        "citations": n_cit,
        "citations_dropped": n_dropped,
        "sources_cited": len(cited),
        "sources_uncited": len(sources) - len(cited),
        "urls": n_urls,
        "urls_removed": n_removed,
        "figures": n_fig,
        "figures_flagged": len(flagged),
    }
    return CheckResult(text=_tidy(text), sources=ordered, flagged=flagged, checks=checks)


_BULLET_RE = re.compile(r"^\s*(?:- )?(?:\*[^*\n]{1,120}\* : )?")


def quoted_section(text: str, ctx: SourceContext) -> str | None:
    """The section of the source's text that the draft's first line citing it quotes (its
    first eight words found verbatim in one of the source's chunks), None when no line
    quotes it word for word (a language model's paraphrase)."""
    marker = f"[{ctx.source.n}]"
    chunks = [(c.section, " ".join(c.text.split())) for c in ctx.all_chunks]
    for line in text.splitlines():
        if marker not in line:
            continue
        words = _BULLET_RE.sub("", CITATION_RE.sub(" ", line)).split()[:8]
        if len(words) < 4:
            continue
        probe = " ".join(words)
        for section, chunk in chunks:
            if probe in chunk:
                return section
    return None


_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_PROMPT_MARKUP_RE = re.compile(r"</?(?:sources|fiche|message_usager|message_agent)\b")


def says_nothing(text: str, question: str) -> str | None:
    """Why a model's draft is no answer, or None: "empty" when it holds no sentence (a
    small model often writes only "[1]"), "prompt" when it copies the prompt's fenced data
    (`<sources>`, `<fiche n=…>`), "echo" when it mostly restates the question or message it
    was given. Such a draft is replaced by the embedded generator's."""
    words = _WORD_RE.findall(CITATION_RE.sub(" ", text))
    if len(words) < 4:
        return "empty"
    if _PROMPT_MARKUP_RE.search(text):
        return "prompt"  # it copied the prompt's fenced data back
    asked = " ".join(_WORD_RE.findall(question.lower()))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(_WORD_RE.findall(s)) >= 4]
    echoed = [s for s in sentences if " ".join(_WORD_RE.findall(s.lower())) in asked]
    if sentences and len(echoed) * 2 >= len(sentences):
        return "echo"
    return None

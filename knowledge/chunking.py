"""Structure-aware chunking of parsed fiches: `chunk_fiche(fiche, *, max_chars=1000)`.

- F fiches follow their own structure. The sections (`Situation`, `Chapitre`, `SousChapitre`,
  `Cas`) form a tree; a subtree whose text fits in `max_chars` is one chunk, a larger one is
  split into its children, and consecutive small siblings (complete subtrees) are packed
  together up to `max_chars`, with their titles kept as heading lines. A paragraph longer than
  `max_chars` is split on line boundaries (lists, table rows: a table title line is repeated),
  then sentence boundaries, then spaces. Every chunk's `text` is at most `max_chars` long.
- The first chunk holds the fiche description and its introduction.
- Each chunk's `context` is the fiche title and the section path common to its content,
  joined by " › " ("Passeport : renouvellement › Demande en France › Pièces à fournir").
- N dossiers/themes: one short chunk (description, introduction, child fiche titles).
- R resources (forms, online services): one short chunk (type, title, cerfa number, related
  fiches, URL), so that "cerfa 13750" or "formulaire de procuration" finds them.

Chunk IDs are f"{fiche_id}#{slug of section path}#{index}" (index counts chunks with the same
slug in the fiche, so IDs are unique within a fiche and stable across parses of the same
content); `Chunk.hash` is the sha256 of context and text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from knowledge.models import SECTION_SEP, Chunk, Fiche
from knowledge.text import CUT_MARK

DEFAULT_MAX_CHARS = 1000
"""Default bound on a chunk's `text` length (characters, context excluded)."""

_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-Þ0-9«\"(-])")
_R_BOILERPLATE = "ATTENTION : Si le formulaire ne s'affiche pas"

Path = tuple[str, ...]
Entry = tuple[Path, str]  # (section path, paragraph)


@dataclass
class _Node:
    path: Path
    items: list[str | _Node] = field(default_factory=list)

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        for item in self.items:
            if isinstance(item, str):
                out.append((self.path, item))
            else:
                out.extend(item.entries())
        return out


@dataclass
class _Piece:
    base: Path
    entries: list[Entry]
    mergeable: bool = True


def _heading(rel: Path) -> str:
    text = SECTION_SEP.join(rel)
    return text if text.endswith(("?", ":", "!")) else f"{text} :"


def _render(base: Path, entries: list[Entry]) -> str:
    lines: list[str] = []
    last: Path | None = None
    for path, para in entries:
        if path != last and path != base:
            lines.append(_heading(path[len(base) :]))
        elif path != last and last is not None and base:
            # back to the chunk's own section after one of its cases or sub-sections: its
            # title says so, else what follows reads as the last case's ("La carte de séjour
            # pluriannuelle vous autorise…" after the case "À Paris" of "Où demander ?")
            lines.append(_heading(base[-1:]))
        last = path
        lines.append(para)
    return "\n".join(lines)


def _common(a: Path, b: Path) -> Path:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _hard_split(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def _pack(units: list[str], limit: int, sep: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for unit in units:
        if not cur:
            cur = unit
        elif len(cur) + len(sep) + len(unit) <= limit:
            cur = f"{cur}{sep}{unit}"
        else:
            out.append(cur)
            cur = unit
    if cur:
        out.append(cur)
    return out


def _split_line(line: str, limit: int) -> list[str]:
    if len(line) <= limit:
        return [line]
    units: list[str] = []
    for sentence in _SENTENCE_RE.split(line):
        units.extend(_hard_split(sentence, limit) if len(sentence) > limit else [sentence])
    return _pack(units, limit, " ")


def split_paragraph(text: str, limit: int) -> list[str]:
    """Split one paragraph into parts of at most `limit` characters.

    Lines first (list items, table rows; a short first line ending with ":" such as a table
    title is repeated at the head of every part), then sentences, then spaces.
    """
    if len(text) <= limit:
        return [text]
    lines = text.split("\n")
    head = ""
    if len(lines) > 2 and lines[0].endswith(":") and len(lines[0]) <= min(120, limit // 4):
        head, lines = lines[0], lines[1:]
    room = limit - (len(head) + 1 if head else 0)
    units: list[str] = []
    for line in lines:
        units.extend(_split_line(line, room))
    parts = _pack(units, room, "\n")
    return [f"{head}\n{p}" if head else p for p in parts]


def _build_tree(fiche: Fiche, intro: list[str]) -> _Node:
    root = _Node(())
    root.items.extend(intro)
    nodes: dict[Path, _Node] = {(): root}
    for section in fiche.sections:
        if not section.path:
            continue  # the introduction, already in `intro`
        for depth in range(1, len(section.path) + 1):
            sub = section.path[:depth]
            if sub not in nodes:
                node = _Node(sub)
                nodes[sub] = node
                nodes[sub[:-1]].items.append(node)
        nodes[section.path].items.extend(p for p in section.paragraphs if p)
    return root


def _chunk_node(node: _Node, limit: int) -> list[_Piece]:
    whole = node.entries()
    if len(_render(node.path, whole)) <= limit:
        return [_Piece(node.path, whole, mergeable=True)]
    units: list[_Piece] = []
    for item in node.items:
        if isinstance(item, str):
            units.extend(_Piece(node.path, [(node.path, p)]) for p in split_paragraph(item, limit))
        else:
            pieces = _chunk_node(item, limit)
            if len(pieces) == 1:
                units.append(pieces[0])
            else:  # a split child stays as it is: its parts are not merged with its siblings
                units.extend(_Piece(p.base, p.entries, mergeable=False) for p in pieces)
    packed: list[_Piece] = []
    for unit in units:
        prev = packed[-1] if packed else None
        if prev is not None and prev.mergeable and unit.mergeable:
            base = _common(prev.base, unit.base)
            entries = prev.entries + unit.entries
            if len(_render(base, entries)) <= limit:
                packed[-1] = _Piece(base, entries, mergeable=True)
                continue
        packed.append(unit)
    for piece in packed:
        piece.mergeable = False  # seen from the parent, this node was split
    return packed


def _slug(path: Path) -> str:
    parts = []
    for part in path:
        ascii_ = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:32].strip("-")
        parts.append(slug or "x")
    return "/".join(parts)


def _make(fiche: Fiche, specs: list[tuple[Path, str]]) -> list[Chunk]:
    chunks: list[Chunk] = []
    counters: dict[str, int] = {}
    for order, (path, text) in enumerate(specs):
        slug = _slug(path)
        index = counters.get(slug, 0)
        counters[slug] = index + 1
        context = SECTION_SEP.join((fiche.title, *path))
        digest = hashlib.sha256(f"{context}\n{text}".encode()).hexdigest()
        chunks.append(
            Chunk(
                id=f"{fiche.id}#{slug}#{index}",
                fiche_id=fiche.id,
                context=context,
                text=text,
                section=SECTION_SEP.join(path),
                order=order,
                hash=digest,
            )
        )
    return chunks


def _intro(fiche: Fiche) -> list[str]:
    paras = [p for s in fiche.sections if not s.path for p in s.paragraphs if p]
    desc = _whole_sentences(fiche.description.strip())
    if desc and desc != fiche.title:
        probe = desc.rstrip(". …")[:80]
        if not any(probe in p for p in paras):
            paras.insert(0, desc)
    return paras


_END_RE = re.compile(r"[.!?…)»]\s*$")


def _whole_sentences(text: str) -> str:
    """A description as the DILA gives it, marked when it is cut: a quarter of them stop
    mid-word ("… la décl"). The cut word is dropped and the text ends with " […]", so that
    its words still count for search and a draft never quotes it as a sentence."""
    if not text or _END_RE.search(text):
        return text
    head = text.rsplit(" ", 1)[0] if " " in text else ""
    return f"{head.rstrip(' ,;:')}{CUT_MARK}" if head else ""


def _truncate(lines: list[str], limit: int) -> str:
    out: list[str] = []
    size = 0
    for line in lines:
        if not line:
            continue
        extra = len(line) + (1 if out else 0)
        if size + extra > limit:
            if not out:
                out.append(_hard_split(line, limit)[0])
            break
        out.append(line)
        size += extra
    return "\n".join(out)


def _dossier_chunk(fiche: Fiche, limit: int) -> list[Chunk]:
    lines = _intro(fiche)
    for section in fiche.sections:
        if not section.path:
            continue
        items = [
            line.strip().removeprefix("- ")
            for p in section.paragraphs
            for line in p.split("\n")
            if line.strip()
        ]
        if items:
            lines.append(f"{SECTION_SEP.join(section.path)} : {', '.join(items)}.")
    text = _truncate(lines, limit) or fiche.title
    return _make(fiche, [((), text)])


def _resource_chunk(fiche: Fiche, limit: int) -> list[Chunk]:
    own = fiche.services[0] if fiche.services else None
    kind = fiche.type or (own.kind if own else "") or "Ressource"
    title = fiche.title
    lines = [title if title.lower().startswith(kind.lower()) else f"{kind} : {title}"]
    if own and own.cerfa:
        number = re.match(r"\d+", own.cerfa)
        short = f" (cerfa {number.group(0)})" if number and number.group(0) != own.cerfa else ""
        lines.append(f"Numéro cerfa : {own.cerfa}{short}")
    if fiche.see_also:
        lines.append("Fiches liées : " + " ; ".join(link.title for link in fiche.see_also[:5]))
    if fiche.dossier:
        lines.append(f"Dossier : {fiche.dossier}")
    blurb = next(
        (
            p
            for p in (fiche.description, *(p for s in fiche.sections for p in s.paragraphs))
            if p and not p.startswith(_R_BOILERPLATE)
        ),
        "",
    )
    if blurb:
        lines.append(_hard_split(blurb.replace("\n", " "), 300)[0])
    url = own.url if own and own.url else fiche.url
    lines.append(f"Lien : {url}")
    # The link goes last but must survive truncation.
    body = _truncate(lines[:-1], max(limit - len(lines[-1]) - 1, 0))
    text = f"{body}\n{lines[-1]}" if body else lines[-1][:limit]
    return _make(fiche, [((), text)])


def chunk_fiche(fiche: Fiche, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """The chunks of one fiche, in reading order (see the module docstring)."""
    if max_chars < 100:
        raise ValueError(f"max_chars must be at least 100, got {max_chars}")
    if fiche.kind == "R":
        return _resource_chunk(fiche, max_chars)
    if fiche.kind == "N":
        return _dossier_chunk(fiche, max_chars)
    root = _build_tree(fiche, _intro(fiche))
    pieces = _chunk_node(root, max_chars)
    specs = [(p.base, _render(p.base, p.entries)) for p in pieces if p.entries]
    if not specs:  # a fiche with no body text at all still gets found by its title
        specs = [((), fiche.description or fiche.title)]
    return _make(fiche, specs)

"""Parse service-public.fr "Vos droits et démarches" XML files (DILA, schema 3.3 and 3.4).

Public API:

- `parse_fiche(data: bytes, source: str) -> Fiche`: one XML file (root `<Publication>` for F
  fiches and N dossiers/themes, `<ServiceComplementaire>` for R resources) into a
  `knowledge.models.Fiche`. Raises `knowledge.errors.ParseError(source, reason)` for empty or
  malformed XML, a DOCTYPE/ENTITY declaration (refused outright: no entity expansion, no DTD,
  no network), an unknown root element, or a missing/invalid ID.
- `merge(a: Fiche, b: Fiche) -> Fiche`: the same fiche (same ID) read from two audience zips
  (Particuliers, Professionnels, Associations) becomes one fiche with the union of their
  audiences. The result does not depend on the order of the arguments: the body, breadcrumb,
  theme and URL come from the newest copy (dc:date), then the one published on the first
  portal in `AUDIENCES` order (the root of its FilDAriane); `content_hash` is recomputed.
  Raises ValueError for two different IDs.
- `merge_all(fiches: Iterable[Fiche]) -> list[Fiche]`: `merge` applied to every group of
  fiches sharing an ID, in first-seen order.
- `fiche_hash(fiche) -> str`: the sha256 of a normalised serialisation of every field but
  `content_hash` (what `parse_fiche` and `merge` store in `content_hash`).

Metadata: `Fiche.services` holds every ServiceEnLigne of the fiche (title, URL, kind, cerfa
number from `numerocerfa`, else the title, else `autrenumero`), deduplicated by ID; an R
resource is itself its first service (URL of its LienWeb, cerfa from NumeroCerfa) and lists
the fiches that use it (FicheLiee) in `see_also`. `Fiche.children` lists an N dossier's child
fiches. `url` is `spUrl`, else the audience rule (Particuliers/Associations on
www.service-public.gouv.fr, Professionnels on entreprendre.service-public.gouv.fr).

Body text is flattened into `Section(path, paragraphs)`: the Introduction first (path ()),
then Chapitre/SousChapitre, ListeSituations/Situation and BlocCas/Cas, each adding its title
to the path. Lists become "- item" lines, tables "Colonne : valeur ; ..." rows, ASavoir/
ANoter/Attention blocks are prefixed ("À savoir : ..."), 3.4 `Condition` markers are dropped
and `FragmentConditionne` content kept. Inline elements are joined with the spaces the
upstream conversion dropped (the 2020 files lost whitespace-only text between elements).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden
from lxml import etree

from knowledge.errors import ParseError
from knowledge.models import AUDIENCES, Fiche, Link, OnlineService, Section

with warnings.catch_warnings():  # defusedxml.lxml is marked deprecated; its DTD check is used
    warnings.simplefilter("ignore", DeprecationWarning)
    from defusedxml import lxml as defused_lxml

logger = logging.getLogger(__name__)

DC = "{http://purl.org/dc/elements/1.1/}"
XSI_SCHEMA = "{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation"

ROOTS = ("Publication", "ServiceComplementaire")

AUDIENCE_URLS = {
    "Particuliers": "https://www.service-public.gouv.fr/particuliers/vosdroits/{id}",
    "Associations": "https://www.service-public.gouv.fr/associations/vosdroits/{id}",
    "Professionnels": "https://entreprendre.service-public.gouv.fr/vosdroits/{id}",
}

_ID_RE = re.compile(r"[FNR]\d+")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_SCHEMA_RE = re.compile(r"/(\d+\.\d+)/")
_CERFA_RE = re.compile(r"(?<![\d*#])(\d{5}\s?[*#]\s?\d{2})(?![\d])")
_WS_RE = re.compile(r"\s+")
_LAST_WORD_RE = re.compile(r"[^\W\d_]+$")
_FIRST_WORD_RE = re.compile(r"[^\W\d_]+")
_ONE_LETTER_WORDS = {"a", "à", "y", "ô", "A", "À", "Y"}
_SPACE_BEFORE_RE = re.compile(r"(?<=\S) +(?=[,.)](?:\s|$))")
# A DOCTYPE or ENTITY declaration in the prolog (checked before lxml sees the bytes).
_DECL_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_START_RE = re.compile(r"<[A-Za-z_]")

# Inline elements that attach to the previous character without a space (1<Exposant>er</...>).
_ATTACHED = {"Exposant", "Indice"}
# Inline or block elements whose content is not reader text.
_SKIPPED = {
    "Condition",
    "Image",
    "Illustration",
    "SiSelectionne",
    "TitreAlternatif",
    "Source",
    "PivotLocal",
    "RessourceWeb",
    "Titre",
}
_NOTE_LABELS = {
    "ASavoir": "À savoir",
    "ANoter": "À noter",
    "Attention": "Attention",
    "Rappel": "Rappel",
    "Exemple": "Exemple",
}
_CONTAINERS = {"Texte", "Introduction", "FragmentConditionne", "ContenuIllustre", "Contenu", "Aide"}


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe and ingestion may use threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=False,
    )


# --------------------------------------------------------------------------- text helpers


def _norm(text: str) -> str:
    text = " ".join(text.split())
    if " ," in text or " ." in text or " )" in text:
        # "dématérialisé</LienInterne> ." / "habilité ," : a link text ending with a space.
        text = _SPACE_BEFORE_RE.sub("", text)
    return text


def _needs_space(left: str, right: str) -> bool:
    """Whether a space was lost between two pieces of text meeting at an element boundary."""
    lch, rch = left[-1], right[0]
    if not (rch.isalnum() or rch in "(«"):
        return False
    if lch.isalnum():
        if lch.isalpha() and rch.islower():
            # A word cut by the markup: a lone letter on either side that is not a French
            # one-letter word ("V" "igilance", "\"c" "ertificat", "titr" "e de séjour").
            m_left = _LAST_WORD_RE.search(left)
            m_right = _FIRST_WORD_RE.match(right)
            lone_left = m_left is not None and len(m_left.group(0)) == 1
            lone_right = (
                m_right is not None
                and len(m_right.group(0)) == 1
                and right[1:2] not in ("-", "'", "’")  # "e-mail", "l'État"
            )
            if lone_left and m_left.group(0) not in _ONE_LETTER_WORDS:
                return False
            if lone_right and m_right.group(0) not in _ONE_LETTER_WORDS:
                return False
        return True
    return lch in ".,;:!?)»€%"


def _glue(left: str, right: str, *, attach: bool = False) -> str:
    if not right:
        return left
    if not left or attach or left[-1].isspace() or right[0].isspace():
        return left + right
    if _needs_space(left, right):
        return f"{left} {right}"
    return left + right


def _inline(el: Any) -> str:
    """The text of an inline container (Paragraphe, MiseEnEvidence...), spaces restored."""
    out = el.text or ""
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in _SKIPPED:
            out = _glue(out, _inline(child), attach=tag in _ATTACHED)
        out = _glue(out, child.tail or "")
    return out


def _text(el: Any) -> str:
    if el is None:
        return ""
    if not len(el):  # no inline children: most paragraphs
        return _norm(el.text or "")
    return _norm(_inline(el))


def _title(el: Any) -> str:
    """The `Titre` of a block: plain text (Situation, Cas) or Paragraphe children (Chapitre)."""
    for t in el.iterchildren("Titre"):  # faster than find(): no ElementPath parsing
        paras = [_text(p) for p in t.iterchildren("Paragraphe")]
        if paras:
            return _norm(" ".join(paras))
        return _text(t)
    return ""


def _cerfa_from(text: str | None) -> str | None:
    if not text:
        return None
    m = _CERFA_RE.search(text)
    return re.sub(r"\s", "", m.group(1)) if m else None


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    m = _DATE_RE.search(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# --------------------------------------------------------------------------- body


class _Body:
    """Collects sections (in document order) and the online services met in the body."""

    def __init__(self) -> None:
        self.sections: list[tuple[tuple[str, ...], list[str]]] = []
        self.services: dict[str, OnlineService] = {}
        self.cases: dict[str, None] = {}  # Situation and Cas titles, in order, once each

    def add(self, path: tuple[str, ...], para: str) -> None:
        if not para:
            return
        if self.sections and self.sections[-1][0] == path:
            self.sections[-1][1].append(para)
        else:
            self.sections.append((path, [para]))

    def paragraphs(self) -> list[str]:
        return [p for _, paras in self.sections for p in paras]


def _service(el: Any) -> OnlineService:
    title = _title(el) or _text(el)
    cerfa = el.get("numerocerfa") or _cerfa_from(title) or el.get("autrenumero")
    return OnlineService(
        title=title,
        url=el.get("URL") or None,
        kind=el.get("type") or None,
        cerfa=_norm(cerfa) if cerfa else None,
    )


def _service_key(el: Any, svc: OnlineService) -> str:
    return el.get("ID") or svc.url or svc.title


def _service_line(svc: OnlineService) -> str:
    line = f"{svc.kind or 'Service en ligne'} : {svc.title}"
    if svc.cerfa:
        line += f" (cerfa n° {svc.cerfa})"
    return line


def _read_children(el: Any) -> Iterator[tuple[str, Any]]:
    """(tag, child) for each child element a reader sees (no comment, no skipped block)."""
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in _SKIPPED:
            yield tag, child


def _list_lines(el: Any, depth: int = 0) -> list[str]:
    numbered = el.get("type") == "numero"
    lines: list[str] = []
    for n, item in enumerate(el.findall("Item"), start=1):
        texts: list[str] = []
        nested: list[str] = []
        for tag, child in _read_children(item):
            if tag == "Liste":
                nested.extend(_list_lines(child, depth + 1))
            elif tag == "Tableau":
                nested.extend("  " * (depth + 1) + row for row in _table_lines(child))
            elif tag == "Paragraphe":
                texts.append(_text(child))
            else:
                texts.append(_flat_text(child))
        bullet = f"{n}." if numbered else "-"
        text = _norm(" ".join(t for t in texts if t))
        if text:
            lines.append(f"{'  ' * depth}{bullet} {text}")
        lines.extend(nested)
    return lines


def _semicolons(parts: Iterable[str]) -> str:
    """Pieces of text glued on one line with " ; ", the empty ones left out, each without
    the full stop that ended it but the last ("… de 9h à 18h30 ; Numéro vert (appel
    gratuit)." rather than "… de 9h à 18h30. ; Numéro vert…" or "… ; ; …")."""
    kept = [p.strip() for p in parts if p.strip()]
    return " ; ".join(
        [
            *(
                p[:-1] if p.endswith(".") and not p.endswith(("..", "etc.")) else p
                for p in kept[:-1]
            ),
            *kept[-1:],
        ]
    )


def _flat_text(el: Any) -> str:
    """All reader text under a block, as one line (cells, list items with odd content)."""
    body = _Body()
    _walk(el, (), body)
    return _norm(_semicolons(line for p in body.paragraphs() for line in p.split("\n")))


def _cell_text(cell: Any) -> str:
    parts: list[str] = []
    for tag, child in _read_children(cell):
        if tag == "Paragraphe":
            parts.append(_text(child))
        elif tag == "Liste":
            parts.append(_semicolons(ln.strip().removeprefix("- ") for ln in _list_lines(child)))
        else:
            parts.append(_flat_text(child))
    if not parts and cell.text:
        parts.append(_norm(cell.text))
    return _norm(" ".join(p for p in parts if p))


def _span(value: str | None) -> int:
    """A cell span attribute ("2"), bounded: a broken or huge value must not blow up a table."""
    try:
        return min(max(1, int(value or 1)), 50)
    except ValueError:
        return 1


def _table_grid(el: Any) -> list[tuple[bool, list[str]]]:
    """Rows as (is_header, cells), with row and column spans expanded into a full grid."""
    grid: list[tuple[bool, list[str]]] = []
    pending: dict[int, tuple[str, int]] = {}  # column -> (text, rows still to fill)
    from_header: set[int] = set()  # the columns whose pending text is a header cell's
    for row in el.findall("Rangée"):
        is_header = row.get("type") == "header"
        if not is_header:
            # a header cell spans header rows only: 33 tables of the corpus give their one
            # header row's cells fusionVerticale="2", which would push the first body row's
            # cells right ("Ressources ; Montant de base ; 69 309 € ou moins ; 131,95 €")
            for c in from_header:
                pending.pop(c, None)
            from_header.clear()
        cells: list[str] = []
        col = 0
        cell_iter = iter(row.findall("Cellule"))
        while True:
            if col in pending:
                cells.append(_take_pending(pending, col))
                col += 1
                continue
            cell = next(cell_iter, None)
            if cell is None:
                break
            text = _cell_text(cell)
            hspan = _span(cell.get("fusionHorizontale"))
            vspan = _span(cell.get("fusionVerticale"))
            for k in range(hspan):
                value = text if (k == 0 or is_header) else ""
                cells.append(value)
                if vspan > 1:
                    pending[col] = (value, vspan - 1)
                    if is_header:
                        from_header.add(col)
                col += 1
        # Spans from above that reach past the last cell of this row.
        for c in sorted(k for k in pending if k >= col):
            while len(cells) < c:
                cells.append("")
            cells.append(_take_pending(pending, c))
        grid.append((is_header, cells))
    return grid


def _take_pending(pending: dict[int, tuple[str, int]], col: int) -> str:
    """The text a cell spanning rows from above puts in column `col` of this row."""
    text, left = pending[col]
    if left <= 1:
        del pending[col]
    else:
        pending[col] = (text, left - 1)
    return text


def _table_lines(el: Any) -> list[str]:
    lines: list[str] = []
    title = _title(el)
    if title:
        lines.append(f"{title} :")
    cols = el.findall("Colonne")
    row_headed = bool(cols) and cols[0].get("type") == "header"
    headers: list[str] = []
    seen_body = False
    for is_header, cells in _table_grid(el):
        if is_header and not seen_body:
            # Header rows before the first body row name the columns (joined when stacked).
            width = max(len(headers), len(cells))
            padded = [*headers, *[""] * (width - len(headers))]
            cells_p = [*cells, *[""] * (width - len(cells))]
            headers = [
                " – ".join(x for x in dict.fromkeys((h, c)) if x)
                for h, c in zip(padded, cells_p, strict=True)
            ]
            continue
        seen_body = True
        parts = []
        for i, value in enumerate(cells):
            if not value or (row_headed and i == 0):
                continue
            name = headers[i] if i < len(headers) else ""
            parts.append(f"{name} : {value}" if name and name != value else value)
        line = _semicolons(parts)
        if row_headed and cells and cells[0]:
            # The first column names the row: "Smic horaire – Montant brut : 11,88 € ; ..."
            line = f"{cells[0]} – {line}" if line else cells[0]
        if line:
            lines.append(line)
    if not lines[1 if title else 0 :] and headers:
        lines.append(_semicolons(headers))  # a table made of headers only
    return lines


def _note(el: Any, path: tuple[str, ...], body: _Body) -> None:
    label = _title(el) or _NOTE_LABELS.get(el.tag, el.tag)
    inner = _Body()
    _walk(el, path, inner)
    for svc_key, svc in inner.services.items():
        body.services.setdefault(svc_key, svc)
    text = "\n".join(inner.paragraphs())
    if text:
        body.add(path, f"{label} : {text}")


def _branches(el: Any, depth: int) -> list[str]:
    """The first two levels of a "Recherche guidée" decision tree (deeper ones are noise)."""
    lines: list[str] = []
    for br in el.findall("Branche"):
        title = _title(br)
        if title:
            lines.append(f"{'  ' * depth}- {title}")
        if depth < 1:
            lines.extend(_branches(br, depth + 1))
    return lines


def _case(el: Any, path: tuple[str, ...], body: _Body) -> None:
    """A Situation or Cas: one of the alternatives its block lists."""
    title = _title(el)
    if title:
        body.cases[title] = None
    _walk(el, (*path, title) if title else path, body)


def _walk(el: Any, path: tuple[str, ...], body: _Body) -> None:
    for child in el:
        _block(child, path, body)


def _block(child: Any, path: tuple[str, ...], body: _Body) -> None:
    """Add one block element (and what it contains) to `body` under `path`."""
    tag = child.tag
    if not isinstance(tag, str) or tag in _SKIPPED:
        return
    if tag == "Paragraphe" or tag == "TitreFlottant" or tag == "Citation":
        body.add(path, _text(child))
    elif tag in ("Chapitre", "SousChapitre"):
        title = _title(child)
        _walk(child, (*path, title) if title else path, body)
    elif tag == "ListeSituations":
        for sub in child.findall("Situation"):
            _case(sub, path, body)
    elif tag == "BlocCas":
        for sub in child.findall("Cas"):
            _case(sub, path, body)
    elif tag in ("Cas", "Situation"):
        _case(child, path, body)
    elif tag in _CONTAINERS:
        _walk(child, path, body)
    elif tag == "Liste":
        body.add(path, "\n".join(_list_lines(child)))
    elif tag == "Tableau":
        body.add(path, "\n".join(_table_lines(child)))
    elif tag in _NOTE_LABELS:
        _note(child, path, body)
    elif tag == "ServiceEnLigne":
        svc = _service(child)
        body.services.setdefault(_service_key(child, svc), svc)
        body.add(path, _service_line(svc))
    elif tag == "OuSAdresser":
        parts = [_title(child), _text(child.find("Complement"))]
        extra = _flat_text(child.find("Texte")) if child.find("Texte") is not None else ""
        line = " – ".join(p for p in parts if p)
        if line:
            body.add(path, f"Où s'adresser : {line}" + (f" ({extra})" if extra else ""))
    elif tag == "Problematique":
        title = _title(child)
        lines = _branches(child, 0)
        body.add((*path, title) if title else path, "\n".join(lines))
    elif tag == "Problematiques":
        _walk(child, path, body)
    elif tag == "LienExterneCommente":
        link = child.find("LienExterne")
        text = _text(link) if link is not None else ""
        comment = _text(child.find("Commentaire"))
        line = " : ".join(p for p in (text, comment) if p)
        if line:
            body.add(path, f"- {line}")
    elif tag in (
        "Definition",
        "Abreviation",
        "Questionnaire",
        "NoticeLiee",
        "ServiceEnLigneAnnexe",
        "Reference",
        "QuestionReponse",
        "VoirAussi",
        "PourEnSavoirPlus",
    ):
        return
    else:
        # Unknown block: keep its reader text rather than lose it.
        logger.debug("unknown block element %s: text kept", tag)
        if len(child):
            _walk(child, path, body)
        elif child.text and child.text.strip():
            body.add(path, _text(child))


# --------------------------------------------------------------------------- metadata


def _audiences(root: Any) -> tuple[str, ...]:
    found = [_norm(a.text or "") for a in root.findall("Audience")]
    found = [a for a in dict.fromkeys(found) if a]
    known = [a for a in AUDIENCES if a in found]
    return (*known, *(a for a in found if a not in AUDIENCES))


def _portal(breadcrumb_root: str | None, audiences: tuple[str, ...]) -> str | None:
    """The audience portal a file was published on: its FilDAriane root, else its first."""
    if breadcrumb_root in AUDIENCES:
        return breadcrumb_root
    return audiences[0] if audiences else None


def _url(root: Any, fiche_id: str, portal: str | None) -> str:
    sp = _norm(root.get("spUrl") or "")
    if sp:
        return sp
    pattern = AUDIENCE_URLS.get(portal or "", AUDIENCE_URLS["Particuliers"])
    return pattern.format(id=fiche_id)


def _references(root: Any) -> tuple[Link, ...]:
    refs: dict[str, Link] = {}
    for ref in root.findall("Reference"):
        url = _norm(ref.get("URL") or "") or None
        title = _title(ref) or url or ""
        if title:
            refs.setdefault(url or title, Link(title=title, url=url, target_id=None))
    source = root.findtext(f"{DC}source") or ""
    for url in re.split(r"[,\s]+", source):
        url = url.strip()
        if url.startswith(("http://", "https://")) and url not in refs:
            refs[url] = Link(title=url, url=url)
    return tuple(refs.values())


def _id_link(el: Any, title: str) -> Link:
    target = el.get("ID") or None
    return Link(title=title, url=None, target_id=target)


def _see_also(root: Any) -> tuple[Link, ...]:
    links: dict[str, Link] = {}
    for va in root.findall("VoirAussi"):
        for el in va:
            if el.tag in ("Fiche", "Dossier"):
                title = _title(el) or _text(el)
                if title:
                    links.setdefault(el.get("ID") or title, _id_link(el, title))
    for el in root.findall("FicheLiee"):  # R resources: the fiches that use them
        title = _title(el)
        if title:
            links.setdefault(el.get("ID") or title, _id_link(el, title))
    return tuple(links.values())


def _abbreviations(root: Any) -> tuple[tuple[str, str], ...]:
    """(short, long) of each `Abreviation` (Sigle, Acronyme) marked up in the fiche."""
    found: dict[str, str] = {}
    for el in root.iter("Abreviation"):
        short = _text(el.find("Titre"))
        long = _flat_text(el.find("Texte")) if el.find("Texte") is not None else ""
        if short and long and len(short) <= 20 and short.lower() != long.lower():
            found.setdefault(short, long[:200])
    return tuple(found.items())


def _anchors(root: Any, fiche_id: str) -> tuple[Link, ...]:
    """Inline links (`LienInterne`) to other publications, with their anchor text."""
    found: dict[tuple[str, str], Link] = {}
    for el in root.iter("LienInterne"):
        target = el.get("LienPublication") or ""
        text = _text(el)
        if _ID_RE.fullmatch(target) and target != fiche_id and 2 < len(text) <= 150:
            found.setdefault((target, text.lower()), Link(title=text, target_id=target))
    return tuple(found.values())


def _children(root: Any) -> tuple[tuple[str, tuple[Link, ...]], ...]:
    """An N dossier's (or theme's) child fiches, grouped by SousDossier/SousTheme title."""
    groups: list[tuple[str, tuple[Link, ...]]] = []
    loose: list[Link] = []
    for el in root:
        if el.tag in ("SousDossier", "SousTheme"):
            links = tuple(
                _id_link(f, _text(f) or _title(f))
                for f in el
                if f.tag in ("Fiche", "Dossier") and (_text(f) or _title(f))
            )
            if links:
                groups.append((_title(el), links))
        elif el.tag in ("Fiche", "Dossier"):
            title = _title(el) or _text(el)
            if title:
                loose.append(_id_link(el, title))
    if loose:
        groups.insert(0, ("", tuple(loose)))
    return tuple(groups)


# --------------------------------------------------------------------------- entry points


def _declares_dtd(data: bytes) -> bool:
    """Whether the prolog (what precedes the root element) declares a DTD or entities."""
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    root_start = _ROOT_START_RE.search(text)
    return bool(_DECL_RE.search(text[: root_start.start()] if root_start else text))


def _load(data: bytes, source: str) -> Any:
    if not data or not data.strip():
        raise ParseError(source, "empty file")
    if _declares_dtd(data):
        raise ParseError(
            source, "DOCTYPE/ENTITY declarations are refused (possible entity-expansion attack)"
        )
    try:
        root = defused_lxml.fromstring(data, parser=_parser(), forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden):
        raise ParseError(
            source, "DOCTYPE/ENTITY declarations are refused (possible entity-expansion attack)"
        ) from None
    except etree.XMLSyntaxError as exc:
        raise ParseError(source, f"malformed XML: {exc}") from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise ParseError(source, f"unreadable XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ParseError(
            source, "DOCTYPE/ENTITY declarations are refused (possible entity-expansion attack)"
        )
    if not isinstance(root.tag, str) or root.tag not in ROOTS:
        raise ParseError(
            source,
            f"unknown root element <{root.tag}> (expected <Publication> or "
            "<ServiceComplementaire>)",
        )
    return root


def parse_fiche(data: bytes, source: str) -> Fiche:
    """Parse one DILA XML file into a `Fiche`; `source` names it in errors (file/zip member)."""
    root = _load(data, source)
    fiche_id = _norm(root.get("ID") or "")
    if not fiche_id:
        raise ParseError(source, f"<{root.tag}> has no ID attribute")
    if not _ID_RE.fullmatch(fiche_id):
        raise ParseError(source, f"invalid ID {fiche_id!r} (expected F…, N… or R… digits)")
    if (root.tag == "ServiceComplementaire") != fiche_id.startswith("R"):
        raise ParseError(source, f"ID {fiche_id} does not match root element <{root.tag}>")

    niveaux = root.findall("FilDAriane/Niveau")
    breadcrumb = tuple(t for t in (_text(n) for n in niveaux) if t)
    title = _text(root.find(f"{DC}title")) or (breadcrumb[-1] if breadcrumb else "")
    if not title:
        raise ParseError(source, f"{fiche_id} has no dc:title")
    audiences = _audiences(root)
    portal = _portal(niveaux[0].get("ID") if niveaux else None, audiences)
    url = _url(root, fiche_id, portal)
    schema_m = _SCHEMA_RE.search(root.get(XSI_SCHEMA) or "")
    theme_el = root.find("Theme")
    dossier_el = root.find("DossierPere")
    dossier = _title(dossier_el) if dossier_el is not None else None
    if not dossier and root.tag == "ServiceComplementaire" and root.find("Dossier") is not None:
        dossier = _title(root.find("Dossier")) or _text(root.find("Dossier"))

    body = _Body()
    intro = root.find("Introduction")
    if intro is not None:
        _walk(intro, (), body)
    if not body.sections:
        body.sections.append(((), []))  # the introduction always comes first, even if empty
    for warning in root.findall("Avertissement"):
        # its paragraphs stay sentences of their own (one line glued with " ; " read as a
        # single sentence of 90 words), the first one after the warning's title
        texte = warning.find("Texte")
        warned = _Body()
        if texte is not None:
            _walk(texte, (), warned)
        paras = warned.paragraphs()
        heading = _title(warning)
        if heading:
            paras = [f"{heading} : {paras[0]}" if paras else heading, *paras[1:]]
        for para in paras:
            body.add(("Avertissement",), para)
    for el in root:
        if el.tag in ("Texte", "ListeSituations", "Problematiques"):
            _block(el, (), body)
        elif el.tag == "LienExterneCommente":
            _block(el, ("Sites utiles",), body)
    kids = _children(root) if root.tag == "Publication" else ()
    for group_title, links in kids:
        path = (group_title,) if group_title else ("Fiches du dossier",)
        body.add(path, "\n".join(f"- {link.title}" for link in links))
    where = [
        " – ".join(p for p in (_title(o), _text(o.find("Complement"))) if p)
        for o in root.findall("OuSAdresser")
    ]
    where = [w for w in dict.fromkeys(where) if w]
    if where:
        body.add(("Où s'adresser",), "\n".join(f"- {w}" for w in where))

    services: dict[str, OnlineService] = {}
    if root.tag == "ServiceComplementaire":
        lien = root.find("LienWeb")
        cerfa = (
            _norm(root.findtext("NumeroCerfa") or "")
            or _cerfa_from(title)
            or _norm(root.findtext("AutreNumero") or "")
            or None
        )
        services[fiche_id] = OnlineService(
            title=title,
            url=(_norm(lien.get("URL") or "") if lien is not None else "") or url,
            kind=root.get("type") or None,
            cerfa=cerfa,
        )
        for annex in root.iter("ServiceEnLigneAnnexe"):
            svc = _service(annex)
            if svc.title:
                services.setdefault(_service_key(annex, svc), svc)
    for sel in root.findall("ServiceEnLigne"):
        svc = _service(sel)
        services.setdefault(_service_key(sel, svc), svc)
    for key, svc in body.services.items():
        services.setdefault(key, svc)

    related = tuple(
        Link(title=_text(q), url=None, target_id=q.get("ID") or None)
        for q in root.findall("QuestionReponse")
        if _text(q)
    )
    fiche = Fiche(
        id=fiche_id,
        kind=fiche_id[0],
        type=_norm(root.get("type") or ""),
        title=title,
        url=url,
        description=_text(root.find(f"{DC}description")),
        audiences=audiences,
        theme=_title(theme_el) if theme_el is not None else None,
        breadcrumb=breadcrumb,
        dossier=dossier or None,
        date=_date(root.findtext(f"{DC}date")),
        date_important=_date(root.get("dateDerniereModificationImportante")),
        references=_references(root),
        services=tuple(services.values()),
        related=related,
        see_also=_see_also(root),
        sections=tuple(Section(path=p, paragraphs=tuple(ps)) for p, ps in body.sections),
        schema=schema_m.group(1) if schema_m else None,
        children=tuple(link for _, links in kids for link in links),
        abbreviations=_abbreviations(root),
        anchors=_anchors(root, fiche_id),
        cases=tuple(body.cases),
    )
    fiche.content_hash = fiche_hash(fiche)
    return fiche


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    raise TypeError(f"cannot serialise {type(value).__name__}")


def fiche_hash(fiche: Fiche) -> str:
    """sha256 of every field of the fiche but `content_hash`, serialised in a stable way."""
    data = {
        f.name: getattr(fiche, f.name)
        for f in dataclasses.fields(fiche)
        if f.name != "content_hash"
    }
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, default=_json_default)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _primary_rank(fiche: Fiche) -> tuple[int, int, str]:
    """Which copy of a shared fiche is the primary one (lowest first): the newest dc:date,
    then the first portal in `AUDIENCES` order (the FilDAriane root), then the content hash."""
    newest = -fiche.date.toordinal() if fiche.date else 0
    root = (fiche.breadcrumb[0] if fiche.breadcrumb else "").lower()
    portal = next(
        (i for i, aud in enumerate(AUDIENCES) if root.endswith(aud.lower())), len(AUDIENCES)
    )
    return (newest, portal, fiche.content_hash)


def merge(a: Fiche, b: Fiche) -> Fiche:
    """One fiche from two copies of the same ID (from different audience zips).

    Commutative: the primary copy (body, breadcrumb, theme, URL) is the newest one by
    dc:date, then the one from the first portal in `AUDIENCES` order, then the lowest content
    hash; audiences are the union, in `AUDIENCES` order.
    """
    if a.id != b.id:
        raise ValueError(f"cannot merge different fiches {a.id} and {b.id}")
    primary, other = sorted((a, b), key=_primary_rank)
    found = set(primary.audiences) | set(other.audiences)
    audiences = (*(x for x in AUDIENCES if x in found), *sorted(found - set(AUDIENCES)))
    merged = dataclasses.replace(primary, audiences=audiences)
    merged.content_hash = fiche_hash(merged)
    return merged


def merge_all(fiches: Iterable[Fiche]) -> list[Fiche]:
    """Merge every group of fiches sharing an ID (see `merge`), keeping first-seen order."""
    by_id: dict[str, Fiche] = {}
    for fiche in fiches:
        seen = by_id.get(fiche.id)
        by_id[fiche.id] = fiche if seen is None else merge(seen, fiche)
    return list(by_id.values())

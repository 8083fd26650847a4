"""The embedded default generator: no model, a draft composed from the fiches' own text.

It reads the first fiches as the fiche gives them (`outline`: every chunk in reading order,
with its section path) and builds **units**: whole sentences, whole lists with the sentence
that introduces them ("Vous devez fournir les documents suivants :" + its items), whole
tables with their title. A sentence that leans on the one before it ("Il peut…", "Cette
durée…", "Toutefois…") is joined to it; the case titles a packed chunk keeps as heading lines
("Vélo avec assistance électrique :") extend the section path of what follows them.
Each unit is scored against the question:

- the question's content words found in the unit and in its section path (the situation or
  case it belongs to: "Demande en France", "Entre 12 et 13 ans"); in the unit, a word weighs
  by how few of the fiche's sentences hold it (`specificity`: "taxe" in a fiche on a tax
  says little, "vacants" points at the sentence); a list scores as its lead-in with its best
  item, however long the other items;
- what the question asks for: an amount ("combien", "coût", "montant") favours units with a
  euro amount or "gratuit"; a delay or a date ("délai", "quand", "durée") units with
  durations and dates; a list ("pièces", "documents", "conditions", "démarches") whole lists
  under a matching heading; a place or an office ("où", "auprès de") the "Où s'adresser"
  units;
- the case whose age or duration range holds what the question states gains ("17 ans" →
  "À partir de 16 ans"); a unit from a special case the question does not mention
  ("À l'étranger", "En Guyane") or an example loses weight; the introduction, which sums
  the fiche up, gains a little.

Question mode: the best unit first (the direct answer), then the others in reading order,
grouped by case when they come from several cases; whole sentences only, none twice; the
online service or form of the fiche; a second fiche only when it answers another request
of the message or matches about as well. Brouillon mode (a reply to a citizen): greeting,
an acknowledgement that promises nothing, what to do for each request of the message (a
request no fiche answers is left to the agent, said so), the links, a closing formula.
Citations [n] follow the order of use. Deterministic, a few milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from chains.postcheck import figure_keys, find_figures
from chains.prompts import (
    BROUILLON_ACK,
    BROUILLON_CLOSING,
    BROUILLON_GREETING,
    BROUILLON_LEFT_TO_AGENT,
    BROUILLON_LINKS,
    BROUILLON_SITUATION,
    EXTRACTIVE_CASES,
    EXTRACTIVE_LABEL_BROUILLON,
    EXTRACTIVE_LABEL_QUESTION,
    SourceContext,
    format_service,
)
from chains.text import (
    NUMBERED_ITEM_RE,
    compounds,
    content_stems,
    fold,
    is_content_word,
    split_sentences,
    stem,
    stem_set,
)
from chains.text import words as word_tokens
from knowledge.text import (
    CUT_MARK,
    abroad_words,
    children_told,
    ends_on_measure,
    measure_dimensions,
    measure_ranges,
    measures_told,
    sector,
    side_of_18,
    span_fit,
    span_ranges,
    stated_spans,
    thing_ranges,
    things_told,
)

NAME = "extractive"
_DIGIT_RE = re.compile(r"\d")
_NUMBER_RE = re.compile(r"\d+(?:[ ,.]\d+)*")
_DURATION_RE = re.compile(
    r"\b(\d+)(?:e|er|re|ème)?\s*(?:jours?|semaines?|mois|(ans?)|années?|heures?|h)\b"
    r"|\bavant (?:le|la fin)\b|\bdans un délai\b"
    r"|\bà partir du\b|\bjusqu'au\b|\bdélai\b",
    re.IGNORECASE,
)

# "15 ans" and more, unless a duration ("pendant 20 ans"), is an age: "les jeunes entre 16 et
# 25 ans" says who, not how long
_AGE_FROM = 15
_DURATION_BEFORE_RE = re.compile(r"(?:pendant|durant|depuis|pour|dans|sous|delai de|duree de)\s+$")


def _says_duration(text: str) -> bool:
    for m in _DURATION_RE.finditer(text):
        before = fold(text[max(0, m.start() - 12) : m.start()])
        is_age = bool(m.group(2)) and int(m.group(1) or 0) >= _AGE_FROM
        if not is_age or _DURATION_BEFORE_RE.search(before):
            return True
    return False


# A question asking an age ("jusqu'à quel âge ?", "âge minimum ?", "conditions d'âge ?",
# "écart d'âge minimum ?") and a sentence stating one ("réservé aux jeunes de 12 à 25 ans",
# "avoir au moins 60 ans", "l'année de votre 25e anniversaire"; not "pendant 2 ans", "3 ans
# d'ancienneté")
_AGE_ASKED_RE = re.compile(
    r"\bquel age\b|\bage (?:mini\w*|maxi\w*|min|max|limite|requis)\b|\bconditions? d'age\b"
    r"|\becart d'age\b"
)
_AGE_WORD_RE = re.compile(r"\banniversaire\b|\bagee?s? de \d")
_YEARS_RE = re.compile(r"\b\d{1,3} ans\b(?! ?(?:d'|de )(?!plus|moins))")
# what lasts a number of years, beside `_DURATION_BEFORE_RE` ("valable 10 ans", "3 ans de
# prison")
_LASTS_BEFORE_RE = re.compile(r"(?:valable|valide|renouvelable|tous les|prison|emprisonnement)\s+$")


@lru_cache(maxsize=8192)
def _text_measures(text: str) -> frozenset[str]:
    """`measure_dimensions` of a unit's text, read only for a question that tells a measure."""
    return measure_dimensions(text)


# The thing whose amount a question asks, named right before "c'est combien" ("l'abattement
# c'est combien ?", "le forfait journalier c'est combien ?", "la rente : combien ?")
_AMOUNT_OF_RE = re.compile(
    r"\b(?:l'|le |la |les |son |sa |ses |leur |du |des )(\w+)(?: \w+)? ?(?:,|:)? "
    r"(?:c'est|c est|ca coute|coute|ca fait)? ?combien\b(?! ?(?:de|d')\b)"
)


def _noun_key(word: str) -> str | None:
    return stem(word) if is_content_word(word) else None


AMOUNT_OF_REACH = 8  # words before a figure where what it is the amount of is named


def _names_figure_of(text: str, stems: frozenset[str]) -> bool:
    """Whether a figure of the text (a sum, a rate) comes within AMOUNT_OF_REACH words after
    a word of `stems` ("un abattement forfaitaire pour frais de 71 %")."""
    for f in find_figures(text):
        if f.kind in ("amount", "percent"):
            before = word_tokens(text[: f.start])[-AMOUNT_OF_REACH:]
            if stems & {stem(w) for w in before}:
                return True
    return False


def _says_age(folded: str) -> bool:
    if _AGE_WORD_RE.search(folded):
        return True
    for m in _YEARS_RE.finditer(folded):
        before = folded[max(0, m.start() - 16) : m.start()]
        if not (_DURATION_BEFORE_RE.search(before) or _LASTS_BEFORE_RE.search(before)):
            return True
    return False


# words that ask for an amount, including the nouns that name one ("salaire", "barème")
_AMOUNT_Q = stem_set(
    "coût coute prix tarif montant gratuit cher frais salaire rémunération plafond barème indemnité"
    " ressources revenus"
)
_DELAY_Q = stem_set("délai durée date temps valable validité longtemps")
# "quand" and "jusqu" are stop words, read here: "jusqu'à quand ?", "c'est quand ?", "avant
# quand ?", "à déposer quand ?" ask for a date or a delay; "quand même", "quand il pleut",
# "quand on modifiera les statuts" tell a situation
_WHEN_RE = re.compile(
    r"\b(?:jusqu ?'? ?(?:a|au)|avant|a partir de|depuis|des|c'est|savoir|et|debut) quand\b"
    r"|(?<![\w'])quand\s*(?:\?|$)"
    r"|^quand\b(?! (?:on|il|elle|ils|elles|je|j'|tu|vous|nous|un|une|le|la|les|l'|mon|ma|mes"
    r"|son|sa|ses)\b)"
)
# "c'est payant ?" asks for a price; "elle paie quand même la taxe ?" (the same stem) asks
# whether she owes it
_PAYANT_RE = re.compile(r"\bpayante?s?\b")
# "combien de <unit>" counts that unit ("combien de temps": a delay, "combien de parts": a
# number); "combien" alone ("c'est combien ?", "combien coûte") asks for an amount, unless
# what it measures lasts ("un congé de combien ?", "un préavis de combien ?": a duration).
_COMBIEN_RE = re.compile(r"(?<!tous les )(?:(\w+) (?:de|d') ?)?\bcombien(?:\s+(?:de|d')\s*(\w+))?")
_SPAN_NOUN_RE = re.compile(
    r"(?:conges?|cdd|contrats?|preavis|delais?|periodes?|stages?|sejours?|bail|baux|essais?"
    r"|arrets?|absences?|suspensions?|mandats?|engagements?|durees?)"
)
_TIME_UNITS = frozenset(
    ["temps", "jours", "jour", "semaines", "semaine", "mois", "ans", "annees", "heures", "heure"]
)
_MONEY_UNITS = frozenset(["euros", "euro", "frais", "argent"])
# How many of a thing ("combien de membres ?", "le nombre de parts", "au moins combien ?"),
# the units of time and money apart: the sentence that answers states a number.
_COUNT_RE = re.compile(r"\b(?:nombre (?:de|d')|nombre minimum|nombre maximum|au moins combien)")
COUNT_BONUS = 1.0
# A sentence stating an amount or a rate the question states ("153 000 €": the threshold
# whose rule it asks about)
FIGURE_BONUS = 1.0
AMOUNT_OF_BONUS = 0.8  # an amount of what the question asks the amount of
# A sentence stating a measure of a dimension the question tells one of ("55 km" for "lorsque
# la distance n'excède pas 40 km", "un semi-rigide de 5,50 m" for "longueur de coque
# supérieure ou égale à 7 mètres")
MEASURE_BONUS = 0.8
# A sentence stating a fine or a prison term, when the question asks what one risks ("il
# risque quoi ?", "amende si absente ?")
PENALTY_BONUS = 0.6
# A rate asked ("quel taux ?", "c'est quel pourcentage ?": the word a few words from one
# asking), unless the question states one ("carte d'invalidité, taux de 80 %"; "son taux
# AT/MP c'est collectif ou individuel ?" asks no figure): the sentences stating a percentage
_RATE = r"(?:taux|pourcentages?)"
_RATE_Q_RE = re.compile(
    rf"\b(?:quel|quelle|quels|quelles|combien)\W+(?:\w+\W+){{0,2}}?{_RATE}\b"
    rf"|\b{_RATE}\W+(?:\w+\W+){{0,2}}?(?:quel|quelle|combien)\b|\b{_RATE}(?:\W+[\w']+){{0,2}}\s*\?"
)
_PERCENT_TOLD_RE = re.compile(r"\d\s*%|\bpour ?cent\b")
RATE_BONUS = 0.8
_ALCOHOL_RE = re.compile(r"%\s*vol\b")
# "où", and "ou" typed without its accent where it can only be "où" ("demande ou ?")
_WHERE_RE = re.compile(r"(?<!\w)où(?!\w)|(?<!\w)ou\s*\?")
# "à qui ?", "ça passe par qui ?", "il peut voir qui avant … ?", "et vers qui me tourner ?"
# ask where to turn, as "où ?" does: "X qui" ending its clause or opening one ("un
# fournisseur à qui je dois de l'argent" tells, it does not ask)
_WHO = r"(?:a|par|devant|voir|aupres de|contacter|vers|s'adresser a|s'adresse a) qui\b"
_WHO_RE = re.compile(
    rf"\b{_WHO}\s*(?:[?,.;:!]|$|et\b|avant\b|pour\b|ou\b)|(?:^|[?,.;:!]\s*|\bet ){_WHO}"
)
# "à quel bureau ?", "quelle mairie ?", "on s'adresse à qui ?", "contacter quel service ?":
# where to turn; not the words alone ("90 m2 de bureaux", "lieu de naissance", "changement
# d'adresse", "au guichet de la mairie" tell the situation) (folded text)
_WHERE_ASK_RE = re.compile(
    r"\bs'adress\w*|\b(?:quel|quelle|quels|quelles) (?:organisme|service|bureau|guichet|lieu"
    r"|administration|mairie|prefecture|tribunal|caisse|juridiction|adresse|interlocuteur)s?\b"
)
_TEMPS = stem_set("temps")
_DUREE = stem_set("durée")
_DELAI = stem_set("délai")
# "il a combien de temps pour contester ?", "j'ai combien de temps ?", "la DDT a combien de
# temps ?": the time one has to act is a deadline ("délai"), not how long something lasts
# ("combien de temps dure la radiation ?") (folded text)
_TIME_HAD_RE = re.compile(
    r"\b(?:ai|as|a|avons|avez|ont|aura|aurai|aurons|aurez|auront)(?:-t)?(?:-(?:il|elle|on))?"
    r"\s+combien de temps\b"
)
_LIST_WORDS = (
    "pièces documents justificatifs papiers conditions démarches étapes procédures dossiers "
    "formalités listes"
)
_LIST_Q = stem_set(_LIST_WORDS)
# A list is asked for by these words, singular or plural, but "papier" only in the plural:
# "le papier de la police", "une déclaration envoyée en papier" ask for no list of papers.
_LIST_Q_RE = re.compile(
    r"\b(?:"
    + "|".join(w if w == "papiers" else f"{w[:-1]}s?" for w in fold(_LIST_WORDS).split())
    + r")\b"
)
# "quelles obligations ?" asks for a list; "obligé", "obligatoire" (the same stem) ask yes or no
_OBLIGATIONS_RE = re.compile(r"\bobligations\b")
# "il lui faut quoi ?", "qu'est-ce qu'il faut ?", "que faut-il ?", "apporter quoi ?", "besoin
# de quoi ?" ask for what is needed: a list the fiche heads as one of pièces, conditions or
# steps ("Pièces à fournir", "Vous devez respecter les conditions suivantes :"), when it has
# one; its other lists are not asked for (folded text)
_BRING = r"(?:fournir|apporter|presenter|ramener|amener)"
_NEEDED_RE = re.compile(
    r"\bfaut(?:-il| il)? quoi\b|\bqu'est[- ]ce qu'il (?:(?:me|te|lui|nous|vous|leur) )?faut\b"
    rf"|\bque faut[- ]il\b|\b{_BRING} quoi\b|\bbesoin de quoi\b|\bquoi {_BRING}\b"
    rf"|\bque (?:doi[st]|doivent)[- ](?:il|elle|on|je|ils|elles) {_BRING}\b"
    rf"|\bqu'est[- ]ce qu'(?:il|elle|on|ils|elles) (?:doi[st]|doivent) {_BRING}\b"
)
_WHERE_Q = stem_set("où adresser auprès organisme guichet bureau lieu service contacter")
# the words that say the kind of answer wanted, not what it is about
_KIND_WORDS = _AMOUNT_Q | _DELAY_Q | _LIST_Q | _WHERE_Q
# The places of a fiche's special cases, by kind: abroad, the overseas territories, the
# local law of Alsace-Moselle. A question naming one kind (a country: abroad) does not make
# another's cases its own (the stamp "En Guyane" for a trip to Italy).
_ABROAD_STEMS = stem_set("étranger")
_OVERSEAS = stem_set(
    "Guyane Mayotte outre-mer Martinique Guadeloupe Calédonie Polynésie "
    "Wallis Futuna Saint-Pierre Miquelon Saint-Barthélemy Saint-Martin"
)
_LOCAL_LAW = stem_set("Alsace Moselle")
# La Réunion, the island, not "une réunion" (a meeting: "Réunions et services en faveur des
# parents", "la réunion de l'assemblée"): a case title of its own ("La Réunion (974)", "À la
# Réunion"), an item of a list of places, or "à / de / en la Réunion" not followed by what
# the meeting is of.
_REUNION_RE = re.compile(
    r"(?:^|› |, )(?:a |de )?(?:la )?reunion(?: \(974\))?(?=$| ›|,)"
    r"|\b(?:a|de|sur|en) la reunion\b(?! (?:de|du|des|d')\b)"
)
# A case abroad: "Vol dans un autre pays", "Vous résidez hors de France", "En Europe".
_ABROAD_RE = re.compile(
    r"\b(?:autres? pays|pays (?:etrangers?|de l'union|membres?)|hors (?:de )?france"
    r"|hors (?:eee|ue|de l'union)|en europe|union europeenne|etrangers?|expatri\w*)\b"
)


# Paris and its region, whose cases ("À Paris", "En région parisienne", "À Paris ou petite
# couronne (92-93-94)") are for the people who live there; not "Toutes régions sauf
# Île-de-France"
_PARIS = r"(?:\bparis\b|\bparisien|\bpetite couronne\b|\bile-de-france\b|\bidf\b)"
_PARIS_RE = re.compile(_PARIS)
_BUT_PARIS_RE = re.compile(r"\b(?:sauf|hors|autres? qu)\b[^›]*" + _PARIS)


def _special_places(stems: frozenset[str], folded: str) -> frozenset[str]:
    """The kinds of special place a text names ("abroad", "overseas", "alsace-moselle",
    "paris"): a territory ("Guyane", "La Réunion"), "l'étranger" or a case abroad ("Vol dans
    un autre pays", "hors de France"), Paris and its region; read on its stems and its folded
    text, a hyphenated name word by word ("Alsace-Moselle", "Wallis-et-Futuna", "En
    Nouvelle-Calédonie": 98, 6 and 6 case titles of the corpus)."""
    if "-" in folded:
        stems = stems | stem_set(folded.replace("-", " "))
    kinds = set()
    if stems & _ABROAD_STEMS or _ABROAD_RE.search(folded):
        kinds.add("abroad")
    if stems & _OVERSEAS or _REUNION_RE.search(folded):
        kinds.add("overseas")
    if stems & _LOCAL_LAW:
        kinds.add("alsace-moselle")
    if _PARIS_RE.search(folded) and not _BUT_PARIS_RE.search(folded):
        kinds.add("paris")
    return frozenset(kinds)


_PLACE_RE = re.compile(
    r"\b(?:aupres d|s'adresser|se rendre|a la mairie|en mairie|au tribunal|a la prefecture"
    r"|au greffe|au commissariat|a la gendarmerie|en ligne|par courrier|au guichet)"
)
# A question telling of a request left unanswered ("toujours rien, ça veut dire quoi ?", "les
# impôts ne répondent pas depuis 3 mois", "et si la mairie ne répond pas ?") asks what that
# silence means; the fiches say it in the sentence on an answer that does not come ("Sans
# réponse dans un délai de 2 mois, la demande est considérée comme rejetée").
_SILENCE_Q_RE = re.compile(
    r"toujours rien|toujours pas de (?:reponse|nouvelles?)|pas (?:eu )?de (?:reponse|nouvelles?)"
    r"|\bn(?:e |')(?:\w+ )?(?:repond\w*|a pas repondu|ont pas repondu)|sans (?:reponse|nouvelles?)"
    r"|aucune (?:reponse|nouvelle)|\bsilence\b|rien recu"
)
_SILENCE_RE = re.compile(
    r"sans reponse|absence de reponse|pas (?:\w+ ){0,3}repondu|\bsilence\b|implicite|tacite"
    r"|vaut (?:rejet|refus|acceptation|accord)"
    r"|consideree?s? comme (?:rejetee?|refusee?|acceptee?|accordee?|implicitement)"
)
SILENCE_BONUS = 1.4
# A fine or a prison term ("… est puni d'une amende de 750 €", "3 ans d'emprisonnement"): the
# amount or the duration of a penalty, which answers only a question on what one risks.
_PENALTY_RE = re.compile(
    r"\bamendes?\b|emprisonnement|\bpassible|\bpunie?s?\b|\bsanctionnee?s? par\b|\bencour"
    r"|\bsous peine\b|\bcontraventions? de \d"
)
_PENALTY_Q_RE = re.compile(
    r"\bamendes?\b|emprisonnement|prison|\brisqu|sanction|penalit|\bpunie?s?\b|\bpv\b"
    r"|contravention|verbalis|\bpoursuivi|condamn|\bencour"
)

_WHERE_PREFIXES = ("ou s'adresser", "ou s’adresser")
_SERVICE_PREFIXES = (
    "teleservice :",
    "formulaire :",
    "simulateur :",
    "modele de document :",
    "service en ligne :",
)

# Everyday words of agents and citizens -> the fiches' wording (helps pick sentences among
# those of the retrieved fiches; the retriever has its own, larger vocabulary).
_SYNONYMS = {
    "adulte": "majeur",
    "enfant": "mineur",
    "fils": "mineur enfant",
    "fille": "mineur enfant",
    "bebe": "mineur enfant",
    "cni": "carte identité",
    "apl": "aide personnalisée logement",
    "prix": "coût",
    "tarif": "coût",
    "papiers": "pièces justificatifs documents",
    # "par jour" is "quotidien" in the fiches ("durée quotidienne", "repos hebdomadaire")
    "jour": "quotidien journalier",
    "semaine": "hebdomadaire",
    "mois": "mensuel",
    "an": "annuel",
    "max": "maximum maximale plafond plafonné",
    # the fiches' word for the widow or widower
    "veuve": "conjoint survivant",
    "veuf": "conjoint survivant",
    "min": "minimum minimale",
    # "je suis obligé ?": the fiches say "n'est pas obligatoire" (not the same stem)
    **dict.fromkeys(("oblige", "obligee", "obliges", "obligees"), "obligatoire"),
    # "durée de validité ?": the fiches say "valable 10 ans" (not the same stem)
    "validite": "valable",
    # "on peut le demander par internet ?": the fiches say "en ligne", "téléservice"
    "internet": "ligne téléservice",
}

MAX_WORDS = 110  # about 20 seconds of reading, lists apart
# A request of a message (or a part of a question) beyond the first, and a reply to a citizen,
# may take one more sentence from the first fiche and this many more words: four sentences
# left the second and third requests unanswered ("il faut faire une demande ? c'est combien
# ?"). Beyond four, a sentence must score half the fiche's best: the fifth at the usual 30 %
# was often beside the point (an agricultural replacement's allowance in a hairdresser's
# reply).
MORE_WORDS = 30
BEYOND_FOUR_SHARE = 0.5
MAX_LIST_ITEMS = 14
BRIEF_LIST_ITEMS = 6  # a list of a fiche quoted beside the first, or not asked for
# A unit scoring under this share of the fiche's best is not quoted. At 0.45, four answers
# in ten stopped at one or two sentences while the next one held an expected fact (the
# 1 month a provisional registration certificate allows, the 22 days of carer's leave
# allowance a month); below 0.25 what comes is noise (a fiche's other cases, its asides).
FLOOR_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Profile:
    """What the question asks: its content stems and the kind of answer it wants.

    `stems` are the words of what is asked (a message's requests, or the whole question);
    `context` the other words of a message (its anecdote), which count for less."""

    stems: frozenset[str]
    amount: bool
    delay: bool
    listing: bool
    where: bool
    yes_no: bool = False
    needed: bool = False  # "il lui faut quoi ?": the list of what is needed, when the fiche has one
    employed: str | None = None  # the sector of employment told ("agente de la mairie": public)
    context: frozenset[str] = frozenset()
    spans: tuple[tuple[float, str], ...] = ()  # ages, durations, years, sums, children told
    things: tuple[tuple[float, str], ...] = ()  # counts of things told ("2 essieux")
    measured: tuple[tuple[float, str], ...] = ()  # measures told ("un bateau de 8 m")
    negated: frozenset[str] = frozenset()  # what it says the person has not ("pas de facture")
    silence: bool = False  # it tells of a request left unanswered ("toujours rien")
    penalty: bool = False  # it asks what one risks ("il risque quoi ?", "amende ?")
    rate: bool = False  # it asks a rate ("quel taux ?", "c'est quel pourcentage ?")
    # it asks how many of a thing ("combien de membres minimum ?", "nombre de parts ?")
    count: bool = False
    # the kinds of special place it names ("en Guyane", "à l'étranger", "hors de France", "au
    # Canada": "abroad"): their cases are its own
    elsewhere: frozenset[str] = frozenset()
    # each content word of what is asked, with the stems of the fiches' words for it ("fils":
    # fil, mineur, enfant); the units of the ages and durations it states set aside
    words: tuple[frozenset[str], ...] = ()
    side: str | None = None  # the side of 18 of the person told of (`_side_told`)
    ages: tuple[tuple[float, str], ...] = ()  # the person's age as told (`_AGE_TOLD_RE`)
    kin: frozenset[str] = frozenset()  # the relatives it names (`kin_named`)
    # the amounts and rates it states ("plus de 153 000 € de subventions"), as figure keys
    figures: frozenset[str] = frozenset()
    # what the question asks whether one may or must do ("il peut contester ?": contest)
    modal_verbs: frozenset[str] = frozenset()
    age: bool = False  # it asks an age (`_AGE_ASKED_RE`)
    measures: frozenset[str] = frozenset()  # the dimensions of the measures it tells
    # what it asks the amount of ("l'abattement c'est combien ?": abattement)
    amount_of: frozenset[str] = frozenset()


# A question answered by yes or no ("peut-on", "a-t-il le droit", "est-ce obligatoire").
_YES_NO_RE = re.compile(
    r"\b(?:est-ce qu|peut-(?:on|il|elle)|peuvent-(?:ils|elles)|puis-je|dois-je|doit-(?:on|il|elle)"
    r"|faut-il|ai-je|a-t-(?:il|elle|on)|suis-je|ont-ils|droit|oblige|obligatoire|legal|possible"
    r"|interdit|autorise)"
)
# A question asked by intonation ("il peut contester ?", "elle paie la Tascom ?", "y a une
# allocation ?"): a clause with a verb of obligation, ability or being, and no word asking for
# anything else (folded text, split at each "?"; "où" folded is "ou": asked at the clause's end)
_ASKING_WORD_RE = re.compile(
    r"\b(?:combien|quand|comment|quel|quelle|quels|quelles|qui|quoi|pourquoi|lequel|laquelle"
    r"|que|qu'est|cb|qd)\b|\bou\s*$"
)
_INTONATION_RE = re.compile(
    r"\b(?:peu[tx]|peuvent|doi[st]|doivent|faut|y a|est|sont|a droit|ont droit)\b"
    # a clause opening on its subject: "…, elle paie la Tascom ?"
    r"|(?:^|[,;:]\s*|\bet\s+)(?:(?:il|elle|on|ils|elles|je|tu|nous|vous)\s+|j')\w"
)


# "peut", "pouvez", "doit", "faut", "a le droit de" and the verb they govern a few words on
# ("peut lui interdire", "peut être trésorier": the content word after the modal)
_MODAL_RE = re.compile(
    r"peu[xt]|peuvent|pouv(?:ez|ons)|pourr(?:a|ez|ont|ait|aient)|doi[st]|doivent"
    r"|dev(?:ez|ons|ra|rez|ront)|faut|faudra|droit"
)
MODAL_REACH = 3  # words after the modal where the verb it governs is looked for


@lru_cache(maxsize=8192)
def modal_verbs(text: str) -> frozenset[str]:
    """The stems of the verbs a modal governs in `text` ("il peut contester ?": contest)."""
    toks = word_tokens(fold(text))
    found = set()
    for i, w in enumerate(toks):
        if not _MODAL_RE.fullmatch(w):
            continue
        for nxt in toks[i + 1 : i + 1 + MODAL_REACH]:
            if is_content_word(nxt) and not _MODAL_RE.fullmatch(nxt):
                found.add(stem(nxt))
                break
    return frozenset(found)


def _asks_by_intonation(folded: str) -> bool:
    """Some clause of the question asks yes or no by intonation alone."""
    return any(
        _INTONATION_RE.search(part) and not _ASKING_WORD_RE.search(part)
        for part in folded.split("?")[:-1]
    )


CONTEXT_WEIGHT = 0.4  # a word of the anecdote next to a word of what is asked
NEGATED_CASE = 0.8  # a case stating what the question says the person lacks
SUM_FIT = 0.5  # a case whose range of sums holds (or not) a sum the question states
AGE_BONUS = 1.0  # a sentence stating an age, for a question asking one


# Asking whether two aids or statuses go together: "en même temps", "toucher les deux",
# "cumulabe" (typed): the fiches say "cumulable", "cumuler", "cumul"
_TOGETHER_RE = re.compile(
    r"\ben meme temps\b|\bcumul\w*"
    r"|\b(?:touch|percev|perc|av|benefici|garder?|conserv)\w* (?:les|des|aux) (?:deux|2|3|trois)\b"
)


def _stems_with_synonyms(text: str) -> frozenset[str]:
    """Content stems of the text and of the fiches' words for its everyday ones."""
    words = [fold(w).strip("?!.,;:()'\"") for w in text.replace("'", " ").split()]
    extra = " ".join(_SYNONYMS[w] for w in words if w in _SYNONYMS) + " " + compounds(text)
    if _TOGETHER_RE.search(fold(text)):
        extra += " cumul cumulable"
    return stem_set(f"{text} {extra}")


def _asked_words(text: str, spans: tuple[tuple[float, str], ...]) -> tuple[frozenset[str], ...]:
    """Each content word of `text` with the stems of the fiches' words for it (`Profile.words`),
    the units of the ages and durations it states ("15 ans") set aside."""
    units = {u for _, u in spans}
    out = []
    for w in word_tokens(text):
        key = fold(w).lower()
        if key in units or not is_content_word(w):
            continue
        out.append(stem_set(f"{w} {_SYNONYMS.get(key, '')}"))
    return tuple(out)


def profile(question: str, requests: Sequence[str] = (), *, one_request: bool = False) -> Profile:
    """The profile of a question, or of a message and its requests (`one_request`: of the
    one request given, the rest of the message being its context)."""
    asked = " ".join(requests) if requests else question
    every = _stems_with_synonyms(question)
    stems = _stems_with_synonyms(asked)
    # the kind of answer wanted may be said outside the requests ("je n'ai pas les moyens
    # de payer un avocat"), except when the profile is of one request
    told, kinds = (asked, stems) if one_request else (question, every)
    folded = fold(told)
    asked_folded = fold(asked)
    counted = [
        "temps" if m.group(2) is None and _SPAN_NOUN_RE.fullmatch(m.group(1) or "") else m.group(2)
        for m in _COMBIEN_RE.finditer(folded)
    ]
    negated = _negated_stems(question)
    stated = stated_spans(question)
    # the ages and durations told, and how many children the family has ("ils ont 3
    # enfants": "Famille nombreuse (3 enfants ou plus)" is their case, "1 enfant" is not)
    spans = stated + children_told(question)
    ages = _ages_told(question)
    if "temps" in counted:
        # "combien de temps" asks for a duration: the fiches say "durée", and "temps" alone
        # would match "en même temps"; the time one has to act, a deadline
        stems = (stems - _TEMPS) | (_DELAI if _TIME_HAD_RE.search(folded) else _DUREE)
    return Profile(
        stems=stems,
        # "sans ressources", "pas de salaire" tell the situation, they ask no amount
        amount=bool((kinds - negated) & _AMOUNT_Q)
        or any(u is None or u in _MONEY_UNITS for u in counted)
        or bool(_PAYANT_RE.search(folded)),
        delay=bool(kinds & _DELAY_Q)
        or bool(_WHEN_RE.search(folded))
        or any(u in _TIME_UNITS for u in counted)
        or "tous les combien" in folded,
        listing=bool(_LIST_Q_RE.search(asked_folded)) or bool(_OBLIGATIONS_RE.search(asked_folded)),
        needed=bool(_NEEDED_RE.search(asked_folded)),
        employed=sector(question),
        where=bool(_WHERE_ASK_RE.search(folded))
        or bool(_WHERE_RE.search(told.lower()))
        or bool(_WHO_RE.search(folded)),
        # by intonation: an agent's question only (a citizen's "C'est vrai ?" asks for more)
        yes_no=bool(_YES_NO_RE.search(asked_folded))
        or (not requests and _asks_by_intonation(asked_folded)),
        context=every - stems,
        spans=spans,
        things=things_told(question),
        measured=measures_told(question),
        negated=negated,
        silence=bool(_SILENCE_Q_RE.search(folded)),
        penalty=bool(_PENALTY_Q_RE.search(folded)),
        rate=bool(_RATE_Q_RE.search(asked_folded)) and not _PERCENT_TOLD_RE.search(asked_folded),
        count=any(
            u is not None and u != "temps" and u not in _TIME_UNITS and u not in _MONEY_UNITS
            for u in counted
        )
        or bool(_COUNT_RE.search(folded)),
        elsewhere=_special_places(stems | every, fold(question))
        | (frozenset({"abroad"}) if abroad_words(question) is not None else frozenset()),
        words=_asked_words(asked, stated),
        side=_side_told(question, ages),
        ages=ages,
        kin=kin_named(question),
        figures=frozenset(k for k in figure_keys([question]) if not k.startswith("date:")),
        modal_verbs=frozenset() if requests else modal_verbs(asked),
        age=bool(_AGE_ASKED_RE.search(asked_folded)),
        measures=measure_dimensions(folded),
        amount_of=frozenset(
            k for m in _AMOUNT_OF_RE.finditer(asked_folded) if (k := _noun_key(m.group(1)))
        ),
    )


# What the person lacks: "pas de facture à son nom", "sans enfant", "n'a plus de titre de
# séjour", "aucun revenu": the words after the negation, up to the end of the clause (6 at
# most)
_NEGATION_RE = re.compile(
    r"\b(?:(?:pas|jamais) (?:de |d'|du |des )|plus (?:de |d'|du |des )(?!\d)|sans |aucune? "
    r"|(?:absence|defaut) (?:de |d'|du |des ))([^,.;:?!()]*)"
)
_CLAUSE_END = frozenset({
    "et", "mais", "ou", "car", "depuis", "pour", "parce", "quand", "si", "alors", "donc", "avec",
    "il", "elle", "ils", "elles", "on", "je",
    # a verb: what follows is what the person does, not what they lack ("femme sans enfant
    # veut donner ses ovocytes", "locataire sans assurance doit partir ?")
    "veut", "veulent", "voudrait", "souhaite", "souhaitent", "peut", "peuvent", "pourrait",
    "doit", "doivent", "devrait", "est", "sont", "etait", "ont", "avait", "va", "vont",
    "demande", "cherche",
})  # fmt: skip


def _negated_stems(text: str) -> frozenset[str]:
    stems: set[str] = set()
    for m in _NEGATION_RE.finditer(fold(text)):
        governed = []
        for word in m.group(1).split()[:6]:
            if word in _CLAUSE_END:
                break
            governed.append(word)
        stems |= stem_set(" ".join(governed) + " " + compounds(" ".join(governed)))
    return frozenset(stems)


_EXAMPLE_RE = re.compile(r"\bexemples?\b")
# "Par exemple, …", "C'est par exemple le cas de …", "C'est le cas, par exemple, si …",
# "Exemple : …", "Exemples de calcul : …"
_EXAMPLE_LEAD_RE = re.compile(r"(?:(?:c'est (?:le cas,? )?)?par exemple\b|exemples?\b[^:]{0,40}:)")
# "On parle aussi de recours collectif.", "On l'appelle aussi…": a name for what was said
_NAMING_RE = re.compile(r"on (?:l'|les? )?(?:parle|appelle|dit|nomme)\b")
_ASIDE_RE = re.compile(r"(?:a savoir|a noter|attention|rappel|important)\s*:")


def _case_title(section: str) -> str:
    """The last two levels of a unit's section: its case and what the case is of."""
    return " › ".join(section.split(" › ")[-2:])


_YEAR_STEMS = stem_set("ans années")


def _measures_other(section: str) -> bool:
    """Whether the case title is a range after a label that is no age ("Date d'expiration :
    moins de 5 ans")."""
    title = _case_title(section)
    label = title.split(" : ", 1)[0] if " : " in title else ""
    return bool(label) and "age" not in fold(label).split()


def _case_fits(section: str, p: Profile) -> bool | None:
    """Whether the case (its age or duration range) holds what the question states; None
    when either says nothing of it. A year only sets a case aside ("Contrat de location
    signé avant le 9 mars 2015" for a lease signed in 2018): the year a question names is
    often the current one ("montant 2020"), which many dated cases hold ("Cadeau perçu en
    2020", "Jusqu'au 31 décembre 2020")."""
    if not section:
        return None
    title = _case_title(section)
    years = tuple(s for s in p.spans if s[1] == "année")
    spans = tuple(s for s in p.spans if s[1] not in ("année", "€"))
    if _measures_other(section):
        # the range of what the label measures, not the person's age ("Date d'expiration :
        # + de 5 ans" is no case for a 15-year-old)
        spans = tuple(s for s in spans if s not in p.ages)
    fits = span_fit(title, spans)
    if fits is None and span_fit(title, years) is False:
        return False
    if fits is None and p.side:
        # a case for one side of 18 ("Si l'auteur est majeur") and a person of the other
        side = side_of_18(title)
        if side:
            return side == p.side
    return fits


def _sum_fits(section: str, p: Profile) -> bool | None:
    """Whether the case's range of sums ("Jusqu'à 50 € dépensés", "Créance inférieure à
    10 000 €") holds a sum the question states ("le voleur a retiré 200 €"); None when either
    says nothing of it. Weaker evidence than an age: the sum told may be of something else
    than what the case measures ("3 000 € de travaux" and a bailiff's fees "Jusqu'à
    10 000 €")."""
    sums = tuple(s for s in p.spans if s[1] == "€")
    return span_fit(_case_title(section), sums) if sums and section else None


# Kinship, as the cases of inheritance, gift, survivor's pension or civil-status fiches name
# it ("Vous êtes l'enfant du défunt", "Neveu ou nièce", "Vous êtes un autre bénéficiaire"):
# each group of relatives and the words for it (accent-folded, lower case). "petit-fils" is
# read before "fils"; a wife is "sa femme", not any "femme"; "veuve" is left out, a status
# as often as a relation ("dame veuve qui hérite de sa sœur").
_KIN_GROUPS = (
    ("petit-enfant", r"(?:arriere[- ])?petite?s?[- ](?:enfants?|fils|filles?)"),
    ("enfant", r"enfants?|fils|filles?|orphelins?"),
    (
        "conjoint",
        r"conjointe?s?|epoux|epouses?|mari|(?:sa|ma|votre|leur|son ex[- ]?) femme"
        r"|partenaires? (?:de|d'un|du) pacs|pacses?",
    ),
    ("frere-soeur", r"freres?|soeurs?|demi-freres?|demi-soeurs?"),
    ("neveu-niece", r"neveux?|nieces?"),
    ("ascendant", r"ascendants?|parents?|peres?|meres?|grands?[- ](?:parents?|peres?|meres?)"),
)
_KIN_RES = tuple((g, re.compile(rf"(?<![\w-])(?:{w})(?![\w-])")) for g, w in _KIN_GROUPS)
# the case of the relatives no other case names ("Vous êtes un autre bénéficiaire", "Autres
# héritiers", "Personne sans lien de parenté")
_OTHER_KIN_RE = re.compile(
    r"\bautres? (?:beneficiaires?|heritiers?|personnes?|membres?|parents?)\b"
    r"|\b(?:sans|aucun|pas de) lien de parente\b|\btiers\b"
)


def kin_named(text: str) -> frozenset[str]:
    """The groups of relatives a text names (`_KIN_GROUPS`): "un neveu hérite de sa tante"
    names {"neveu-niece"}; "grand-mère … à sa petite-fille", the ascendant and the
    grandchild."""
    folded = fold(text.lower()).replace("’", "'")
    found = set()
    for group, pattern in _KIN_RES:
        if pattern.search(folded):
            found.add(group)
            folded = pattern.sub(" ", folded)  # "petit-fils" is no "fils"
    return frozenset(found)


def kin_cases(sections: Iterable[str]) -> frozenset[str] | None:
    """The groups of relatives a fiche's cases are for, when its cases are by kinship: three
    groups, or two and the other relatives' case ("Vous êtes l'enfant du défunt", "… le
    conjoint", "… un autre bénéficiaire"); None otherwise ("Vous habitez chez vos parents"
    beside "Vous êtes hébergé par un tiers" is a matter of lodging, "Enfants concernés" of age)."""
    titles = {_case_title(s) for s in sections if s}
    groups = frozenset().union(*(kin_named(t) for t in titles))
    others = any(_OTHER_KIN_RE.search(fold(t.lower())) for t in titles)
    return groups if len(groups) >= 3 or (len(groups) >= 2 and others) else None


def _kin_fits(title: str, kin: frozenset[str], fiche_kin: frozenset[str]) -> bool | None:
    """Whether a case titled for relatives (`title`, its last two levels) of a fiche whose
    cases are by kinship (`fiche_kin`, `kin_cases`) is the person's, of kin `kin`: a case
    naming other relatives is not; the other relatives' case is, unless a case names the
    person's. None when either says nothing of kinship."""
    if not kin:
        return None
    named = kin_named(title)
    if named:
        return bool(named & kin)
    if _OTHER_KIN_RE.search(fold(title.lower())):
        return not fiche_kin & kin
    return None


# A person's age as told ("un gamin de 16 ans", "mon fils a 15 ans", "âgée de 20 ans", and
# in an agent's keyword style "jeune 19 ans", "monsieur 67 ans"), not a duration ("en CDI
# depuis 3 ans", "il y a 2 ans", "elle a 3 ans d'ancienneté")
_AGE_TOLD_RE = re.compile(
    r"(?:\b(?:fils|fille|enfant|jeune|ado|adolescente?|gamine?|garcon|mineure?|bebe|homme|"
    r"femme|monsieur|dame|personne|usagere?|frere|soeur|neveu|niece|eleve|etudiante?|"
    r"apprentie?)s? (?:de |d')?|(?<!\by )\ba |\bj'ai |\bagee?s? de )(\d{1,3}) ?ans\b"
    r"(?! ?(?:de|d')\b)"
)


# A table row as the fiches render it: its first cell, a dash, then the other cells with
# their headers ("De 60 à 76 ans – Durée de validité : 2 ans ou jusqu'à…")
_ROW_CELL_RE = re.compile(r"^([^–:\n]{1,80}) – [^:\n]{1,80} : ")
AGE_OPENING_WORDS = 12  # a sentence's first words, where it says whom it is for


def _age_fit(text: str, ages: tuple[tuple[float, str], ...]) -> bool | None:
    """Whether the row (its first cell) or the sentence (its first words) is for the person's
    age: "Moins de 55 ans – Durée de validité : 5 ans" is not for a 62-year-old, "Un mineur
    de moins de 16 ans ne peut pas…" is for a 15-year-old. None when it names no age range.
    A row for another age is another case (False); a sentence's range may be the condition
    the person fails ("Vous devez avoir moins de 26 ans"), which answers too (None)."""
    row = _ROW_CELL_RE.match(text)
    if row is not None:
        return span_fit(row.group(1), ages)
    return span_fit(" ".join(text.split()[:AGE_OPENING_WORDS]), ages) or None


def _ages_told(question: str) -> tuple[tuple[float, str], ...]:
    """The ages of the persons the question tells of (`_AGE_TOLD_RE`), as spans (15, "ans")."""
    return tuple((float(a), "ans") for a in _AGE_TOLD_RE.findall(fold(question.replace("’", "'"))))


def _side_told(question: str, ages: tuple[tuple[float, str], ...]) -> str | None:
    """The side of 18 of the person the question tells of: their age as told (`ages`: "un
    gamin de 16 ans"), else its own words ("mineur", "majeur"; not "enfant", which a parent
    of any age says)."""
    sides = {a < 18 for a, _ in ages}
    if len(sides) == 1:
        return "mineur" if sides.pop() else "majeur"
    return side_of_18(question)


@dataclass(frozen=True, slots=True)
class Unit:
    """A whole sentence, or a whole list with its lead-in, of one fiche."""

    text: str
    section: str
    order: int  # reading order inside the fiche
    stems: frozenset[str]
    n_words: int
    is_list: bool
    has_amount: bool
    has_rate: bool  # states a percentage
    has_delay: bool
    is_where: bool
    is_service: bool
    has_place: bool  # names where to go ("à la mairie", "auprès de")
    on_silence: bool  # says what no answer means ("Sans réponse dans un délai de 2 mois…")
    penalty: bool  # states a fine or a prison term ("… une amende de 750 €")
    has_number: bool  # states a number ("au moins 7 personnes", "2 parts")
    states_age: bool  # states an age ("de 12 à 25 ans", `_says_age`)
    key: str
    sig: frozenset[str]  # content stems and figures: two units alike in both say the same
    # its first OPENING_WORDS words ("" when shorter): a fiche that says a rule twice, in
    # its summary and in a section, opens both sentences alike and ends them differently
    opening: str = ""
    denies: bool = False  # it says "ne … pas", "aucun", "sans" (of its head when joined)
    norm_words: int = 0  # the length it is scored at (of its first sentence when joined)
    says_yes_no: bool = False  # "Oui, …", "n'est pas obligatoire", "n'avez pas besoin"
    leans: bool = False  # opens on a word that needs the sentence before it
    # names something of the sentence before further on ("… même en dessous de ce chiffre
    # d'affaires"): quoted after it when both are chosen (see _with_antecedents)
    points_back: bool = False
    refers_back: bool = False  # "S'il choisit cette dernière solution…": it may never lead
    example: bool = False  # an illustration ("Par exemple", a section "Exemple de calcul")
    # "À savoir : …", "À noter : …", "Attention : …", a fiche's warning ("Avertissement": in
    # 2020, the Covid measures of the moment): beside the rule, never leading
    aside: bool = False
    # the kinds of special place its case is ("overseas": "En Guyane", "abroad": "Vol dans un
    # autre pays")
    places: frozenset[str] = frozenset()
    # what its case title says the person lacks ("Vous n'avez pas d'enfant": enfant)
    case_lacks: frozenset[str] = frozenset()
    section_stems: frozenset[str] = frozenset()
    # the place of its chunk among those the retriever matched best to the question (-1: none)
    chunk_rank: int = -1
    # a list: its lead-in with each of its items, as (content stems, words): a list answers
    # as well as its best item does, however long the rest
    items: tuple[tuple[frozenset[str], int], ...] = ()
    # a list whose lead-in opens on a whole sentence of the fiche (joined to it when
    # quoted, see _with_antecedents): `sig` and `opening` are that sentence's, so that the
    # draft does not quote it again from another fiche
    opens_on_sentence: bool = False
    # the sentences joined after its head (a leaning sentence after its antecedent) as
    # (sig, opening, denies): the draft does not quote one of them again, in other words
    tail: tuple[tuple[frozenset[str], str, bool], ...] = ()


def _unit(text: str, section: str, order: int, is_list: bool) -> Unit:
    folded = fold(text)
    # read for the words that lean on the sentence before: "ce", "ces" written in capitals
    # are a name ("Le permis CE permet…", a driving licence's category), not a demonstrative
    plain = fold(_ACRONYM_CE_RE.sub("X", text)) if "CE" in text else folded
    kinds = {f.kind for f in find_figures(text)}
    head = folded.lstrip("- ")
    stems = frozenset(content_stems(text))
    n_words = len(text.split())
    section_stems = stem_set(section)
    folded_section = fold(section)
    return Unit(
        text=text,
        section=section,
        order=order,
        stems=stems,
        n_words=n_words,
        is_list=is_list,
        has_amount="amount" in kinds or "gratuit" in folded,
        # an alcoholic strength ("2,8 % vol.") is no rate
        has_rate="percent" in kinds and not _ALCOHOL_RE.search(folded),
        has_delay="date" in kinds or _says_duration(text),
        is_where=head.startswith(_WHERE_PREFIXES),
        is_service=head.startswith(_SERVICE_PREFIXES),
        has_place=bool(_PLACE_RE.search(folded)),
        on_silence=bool(_SILENCE_RE.search(folded)),
        penalty=bool(_PENALTY_RE.search(folded)),
        has_number=bool(_DIGIT_RE.search(text)),
        states_age=_says_age(folded),
        key=re.sub(r"\W+", " ", folded).strip(),
        sig=stems | frozenset(_NUMBER_RE.findall(text)),
        opening=_opening(folded),
        denies=_denies(folded),
        norm_words=n_words,
        says_yes_no=bool(_YES_NO_ANSWER_RE.search(folded)),
        leans=bool(_LEANS_RE.match(plain)),
        points_back=bool(_POINTS_BACK_RE.search(plain)),
        refers_back=bool(_REFERS_BACK_RE.match(plain)),
        example=bool(_EXAMPLE_LEAD_RE.match(head)) or bool(_EXAMPLE_RE.search(folded_section)),
        aside=bool(_ASIDE_RE.match(head)) or section == "Avertissement",
        # what its case says the person lacks, at any depth ("Donneuse sans enfant › Prise en
        # charge")
        case_lacks=frozenset().union(*map(_negated_stems, section.split(" › "))),
        section_stems=section_stems,
        places=_special_places(section_stems, folded_section),
        items=_list_items(text) if is_list else (),
    )


OPENING_WORDS = 10


def _opening(folded: str) -> str:
    head = re.findall(r"\w+", folded.split("\n", 1)[0])
    return " ".join(head[:OPENING_WORDS]) if len(head) > OPENING_WORDS else ""


def _list_items(text: str) -> tuple[tuple[frozenset[str], int], ...]:
    lines = text.splitlines()
    lead = " ".join(x for x in lines if not x.startswith("- "))
    parts = [f"{lead} {x[2:]}" for x in lines if x.startswith("- ") and x != "- …"]
    return tuple((frozenset(content_stems(p)), len(p.split())) for p in parts)


# A sentence pointing back at the one before ("S'il choisit cette dernière solution, …",
# "Dans ce dernier cas, …"): it leans, and no case title can stand for what it points at.
_REFERS_BACK = r"^(?:\S+ ){0,5}?(?:ce|cette|ces) derni(?:er|ere|ers|eres)\b"
_REFERS_BACK_RE = re.compile(_REFERS_BACK)
# A sentence that leans on the one before it ("Il peut aller jusqu'à 45 km/h.", "Cette durée
# peut être prolongée…", "Toutefois, …"): quoted alone it says something else, so it stays
# with its antecedent.
# "ce délai", "cette aide": a demonstrative naming something said before (not "ce qui",
# "ces 3 mois")
_THIS = r"(?:ce|cet|cette|ces) (?!\d|qui\b|que\b|qu'|dont\b)"
_LEANS_RE = re.compile(
    r"^(?:il|elle|ils|elles|ce|cet|cette|ces|cela|ceci|celui|celle|ceux|celles|son|sa|ses"
    r"|leur|leurs|toutefois|cependant|en revanche|neanmoins|sinon|dans ce cas|dans les \d+ cas"
    # a sentence opening on "Et …" or "Alors que …" goes on with the one before ("Alors que
    # le congé parental peut être accordé jusqu'au 3e anniversaire de l'enfant.")
    r"|et|alors que|tandis que"
    # and on the connectives that say how it follows from it ("De même, …", "Enfin, …", "À
    # l'inverse, …", "En conséquence, …")
    r"|de meme(?! que)|enfin|ensuite|puis|a l'inverse|inversement|en consequence|pour autant"
    r"|le cas echeant|en contrepartie,|des lors,|par contre|dans le cas contraire|au contraire"
    r"|d'autre part|faute de quoi"
    r"|a defaut|au-dela|en outre|de plus|en plus|egalement|aussi|par ailleurs|mais|or|ainsi"
    r"|en effet|donc|par consequent"
    r"|pour cela|dans ce cadre|a cet effet"
    # "C'est le cas si …", "C'est également le cas …", "C'est pourquoi …", "C'est ce qu'on
    # appelle …", "Ce n'est pas le cas …", "C'est lui qui …": "c'est" names what the
    # sentence before said (about 180 sentences of the corpus; "C'est le cas par exemple
    # de …" is an illustration, `Unit.example`, not joined to the rule)
    r"|c'est (?:(?:notamment|egalement|aussi|donc|alors|encore|d'ailleurs) )?"
    r"(?:le cas(?!,? par exemple)|pourquoi|ce qu|ce que|la raison|lui|elle|eux)"
    r"|ce n'est (?:pas|plus) le cas|c'est-a-dire)\b"
    # an impersonal "il" ("Il n'est plus obligatoire de…", "Il est possible que…", "Il
    # faut…") leans on nothing; "Il est versé…", "Elle est délivrée…", "Il est de 13 503 €…"
    # name what the sentence before is about
    r"(?!\s+(?:ne |n')?(?:faut|existe|y a|suffit|convient|appartient|importe)\b)"
    r"(?!\s+(?:ne |n')?est (?:(?:pas|plus|donc|toutefois|cependant|neanmoins|aussi|egalement"
    r"|alors|notamment|parfois|souvent|generalement|desormais|toujours|en effet) ){0,2}"
    r"[\w-]+ (?:de\b|d'|que\b|qu'))"
    r"|"
    + _REFERS_BACK
    # "Passé ce délai, …", "Pour ce faire, …", "Dans cette situation, …"
    + r"|^(?:\S+ ){1,2}"
    + _THIS
)
MAX_JOINED_WORDS = 70
_ACRONYM_CE_RE = re.compile(r"\bCES?\b")
_POINTS_BACK_RE = re.compile(r"\b" + _THIS + r"(?=\w)")


def _joined(units: list[Unit], fresh: frozenset[int] = frozenset()) -> list[Unit]:
    """Each sentence that leans on the previous one joined to it (same section, not a list,
    not too long), unless a heading stood between them (`fresh`: the orders of the units
    right after one): "Elle peut aussi s'effectuer par courrier" under each of five
    départements' headings leans on its own heading, not on the same sentence of the
    département before."""
    out: list[Unit] = []
    for u in units:
        prev = out[-1] if out else None
        if (
            prev is not None
            and u.order not in fresh
            and not u.is_list
            and not prev.is_list
            and prev.section == u.section
            and prev.text.rstrip().endswith((".", "!", "…"))
            and u.leans
            and prev.n_words + u.n_words <= MAX_JOINED_WORDS
        ):
            joined = _unit(f"{prev.text} {u.text}", prev.section, prev.order, False)
            # scored at the length of its head, and told apart from others by its head
            out[-1] = replace(
                joined,
                norm_words=prev.norm_words,
                sig=prev.sig,
                denies=prev.denies,
                tail=(*prev.tail, (u.sig, u.opening, u.denies), *u.tail),
            )
        else:
            out.append(u)
    return out


# A line that introduces what follows it ("… le téléservice suivant :", "… en utilisant ce
# simulateur :"), not a case title.
_FOLLOWING_RE = re.compile(
    r"\bsuivante?s?\b|\b(?:ce|cet|cette|ces|le|la|les) (?:teleservices?|formulaires?"
    r"|simulateurs?|services? en ligne|modeles?|documents?|liens?|sites?)\b"
)
_TABLE_ROW_RE = re.compile(r" : [^;]*; [^;:]+ : ")  # "Type : A ; Tarif : 46 €" (a table row)
# A row of a table without column headers ("Vol simple ; 3 ans de prison 45 000 € d'amende"),
# and a row of a two-column table named by its first cell ("2 – Nombre de parts : 2,5", "Par
# enfant supplémentaire – Nombre de parts : 1"), read as one only after the table's title
# line or another such row.
_BARE_ROW_RE = re.compile(r"^[^:;]{1,200} ; [^:]+$")
_NAMED_ROW_RE = re.compile(r"^[^–:;\n]{1,80} – [^–:;\n]{1,80} : [^;\n]+$")


def _row_re(piece: str) -> re.Pattern[str] | None:
    """The kind of table row `piece` is, when it may be one."""
    for pattern in (_TABLE_ROW_RE, _BARE_ROW_RE, _NAMED_ROW_RE):
        if pattern.search(piece):
            return pattern
    return None


def _row_after(piece: str, nxt: str) -> bool:
    """Whether `nxt` is the first row of a table whose title line is `piece`."""
    return piece.rstrip().endswith(":") and _row_re(nxt) is not None


def _heading_lines(text: str, cases: frozenset[str] = frozenset()) -> set[str]:
    """The lines of a packed chunk that title the paragraphs after them (a case, a
    sub-chapter: "Vélo avec assistance électrique :"), rather than introduce a list; a line
    naming only case titles of the fiche titles them even when a list follows ("L'enfant a
    une carte d'identité valide :" above the pièces for that case)."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    out = set()
    for line, nxt in zip(lines, [*lines[1:], ""], strict=True):
        titles_cases = bool(cases) and all(t in cases for t in line.rstrip(" :").split(" › "))
        if (nxt and titles_cases) or (
            line.endswith((":", "?"))
            and len(line.split()) <= 14
            and nxt
            and not _is_item(nxt)
            and _row_re(nxt) is None
            and not _FOLLOWING_RE.search(fold(line))  # "le téléservice suivant :" introduces
            and not line.startswith(("- ", "• "))
        ):
            out.add(line)
    return out


def _list_unit(lead: str, items: list[str], section: str, order: int) -> Unit:
    shown = items[:MAX_LIST_ITEMS]
    if len(items) > MAX_LIST_ITEMS:
        shown.append("- …")
    return _unit("\n".join(([lead] if lead else []) + shown), section, order, True)


def _ends_sentence_after_list(last_item: str, nxt: str) -> bool:
    """`nxt` ends the sentence a list is part of: it opens in lower case after an item that
    does not close it ("- ou sur le partage des charges courantes du couple," then "en vue
    d'établir la quote-part…")."""
    return (
        nxt[:1].islower()
        and not _is_item(nxt)
        and not last_item.rstrip().endswith((".", "!", "?", "…"))
    )


def _is_item(piece: str) -> bool:
    return piece.startswith(("- ", "• ")) or bool(NUMBERED_ITEM_RE.match(piece))


@lru_cache(maxsize=4096)
def _units_of(
    section: str, text: str, start: int, cases: frozenset[str] = frozenset()
) -> tuple[Unit, ...]:
    """The units of one chunk: sentences, and lists kept whole with their lead-in; the
    heading lines of a packed chunk extend the section path of what follows them."""
    out: list[Unit] = []
    headings = _heading_lines(text, cases)
    current = section
    pieces = split_sentences(text)
    i = 0
    order = start
    fresh: set[int] = set()  # units right after a heading
    own_title = section.rsplit(" › ", 1)[-1]
    while i < len(pieces):
        piece = pieces[i]
        if section and piece.rstrip(" :") == own_title:
            # the chunk's own section named again: its text goes on after a case of it
            # (`knowledge.chunking`), and what follows is no longer that case's
            current = section
            fresh.add(order)
            i += 1
            continue
        if piece in headings:
            title = piece.rstrip(" :")
            current = f"{section} › {title}" if section else title
            fresh.add(order)
            i += 1
            continue
        # a sentence leading in the title line of a table whose rows are named by their first
        # cell ("Vous avez droit à une majoration de parts si … :", "Nombre de parts de
        # quotient familial :", "1 – Nombre de parts : 1,25"): the sentence says what the
        # rows are of
        leads_title = (
            piece.rstrip().endswith(":")
            and i + 2 < len(pieces)
            and not _row_re(piece)
            and pieces[i + 1].rstrip().endswith(":")
            and _row_re(pieces[i + 2]) is _NAMED_ROW_RE
        )
        if (
            _TABLE_ROW_RE.search(piece)
            or (i + 1 < len(pieces) and _row_after(piece, pieces[i + 1]))
            or leads_title
        ):
            # a table: its title line and its rows, one unit (a row alone lacks its header)
            lead = "" if _TABLE_ROW_RE.search(piece) else piece
            if leads_title:
                i += 1  # the title line
            j = i + (1 if lead else 0)
            row_re = _TABLE_ROW_RE if not lead else _row_re(pieces[j]) or _TABLE_ROW_RE
            items = []
            while j < len(pieces) and row_re.search(pieces[j]):
                items.append("- " + pieces[j].strip())
                j += 1
            out.append(_list_unit(lead, items, current, order))
            order += 1
            i = j
            continue
        ends_open = not piece.rstrip().endswith((".", "!", "?", "…"))
        next_is_item = i + 1 < len(pieces) and _is_item(pieces[i + 1])
        if (
            _is_item(piece)
            or piece.rstrip().endswith(":")
            or (ends_open and next_is_item)  # "… que le demandeur dispose" + its items
        ):
            lead = "" if _is_item(piece) else piece
            j = i + (1 if lead else 0)
            items = []
            while j < len(pieces):
                if _is_item(pieces[j]):
                    item = pieces[j]
                    items.append(
                        "- " + (item[2:] if item.startswith(("- ", "• ")) else item).strip()
                    )
                elif items and _ends_sentence_after_list(items[-1], pieces[j]):
                    # the sentence goes on after its list ("Les parents qui : - …, - …,
                    # peuvent être sanctionnés par une amende…"): its end is the last item's,
                    # and when it leads in another list ("… doivent déposer deux demandes
                    # distinctes :"), that list's items are the sentence's too
                    items[-1] = f"{items[-1]} {pieces[j]}"
                    if not pieces[j].rstrip().endswith(":"):
                        j += 1
                        break
                else:
                    break
                j += 1
            if items:
                out.append(_list_unit(lead, items, current, order))
                order += 1
                i = j
                continue
            nxt = pieces[i + 1] if lead and i + 1 < len(pieces) else ""
            if nxt and fold(nxt).startswith(_SERVICE_PREFIXES) and _FOLLOWING_RE.search(fold(lead)):
                # "… en utilisant le téléservice suivant :" + "Téléservice : <its name>"
                out.append(_unit(f"{lead} {nxt}", current, order, False))
                order += 1
                i += 2
                continue
            if lead:  # a lead-in with no list after it in this chunk: says nothing alone
                i += 1
                continue
        # a question in the text ("Qui peut saisir le Défenseur des droits ?") is a heading;
        # a description the DILA cut mid-word (marked by the chunker) is no sentence
        if (
            (len(piece) >= 12 or (current != section and _DIGIT_RE.search(piece)))
            and not _is_heading(piece)
            and not piece.rstrip().endswith(("?", CUT_MARK))
        ):
            out.append(_unit(piece, current, order, False))
            order += 1
        elif (
            _is_heading(piece) and not fold(piece).startswith(_SERVICE_PREFIXES)
        ) or piece.rstrip().endswith("?"):
            # a heading or a question heads what follows (a service's line, "Téléservice :
            # …", between a sentence and the one leaning on it does not)
            fresh.add(order)
        i += 1
    return tuple(_joined(out, frozenset(fresh)))


def _is_heading(line: str) -> bool:
    """A heading line kept in a packed chunk ("Conditions préalables"): short, no figure,
    no end punctuation."""
    return (
        len(line.split()) <= 10
        and not _DIGIT_RE.search(line)
        and not line.rstrip().endswith((".", "!", "?", "…", ")", "»", ":"))
    )


def fiche_units(ctx: SourceContext) -> list[Unit]:
    """Every unit of a source, in reading order (its outline when given, else its chunks).

    Consecutive chunks of one section are read as one text, so that a list the chunker cut
    in two keeps its lead-in; its units carry the best rank, among the retriever's best
    chunks (`ctx.chunks`), of the chunks read."""
    chunks = ctx.outline or ctx.chunks
    best = {c.id: r for r, c in enumerate(ctx.chunks)}
    runs: list[tuple[str, list[str], int]] = []
    for c in chunks:
        rank = best.get(c.id, -1)
        if ctx.outline and runs and runs[-1][0] == c.section:
            section, texts, was = runs[-1]
            texts.append(c.text)
            if rank >= 0 and (was < 0 or rank < was):
                runs[-1] = (section, texts, rank)
        else:
            runs.append((c.section, [c.text], rank))
    units: list[Unit] = []
    for section, texts, rank in runs:
        run = _units_of(section, "\n".join(texts), len(units), frozenset(ctx.cases))
        units.extend([replace(u, chunk_rank=rank) for u in run] if rank >= 0 else run)
    if not units and ctx.source.excerpt:
        units.extend(_units_of(ctx.source.section, ctx.source.excerpt, 0))
    if ctx.source.fiche_id.startswith("R"):
        # a form's or an online service's record: its catalogue lines are no answer, and its
        # link is given with the draft's links
        units = [u for u in units if not _RECORD_LINE_RE.search(fold(u.text))] or units
    return _spelt_out(units, ctx.abbreviations)


# The catalogue lines of a form's or an online service's record ("Numéro cerfa : 15725*03",
# "Fiches liées : Se pacser", "Lien : https://…", "… - Formulaire"): what it is and where,
# given once by the draft's "En ligne" line.
_RECORD_LINE_RE = re.compile(
    r"^(?:numero cerfa|fiches liees|dossier|lien|references?) :"
    r"|\s-\s(?:formulaire|teleservice|modele de document|simulateur)$"
)


def _spelt_out(units: list[Unit], abbreviations: Sequence[tuple[str, str]]) -> list[Unit]:
    """Units naming an abbreviation the fiche marks up also hold its long form's words: a
    message's "annonce au Journal officiel" finds the sentence on publishing "au JOAFE"."""
    forms = [
        (re.compile(rf"\b{re.escape(short)}\b"), stem_set(long)) for short, long in abbreviations
    ]
    if not forms:
        return units
    out = []
    for u in units:
        extra = frozenset().union(*(stems for rx, stems in forms if rx.search(u.text)))
        out.append(replace(u, stems=u.stems | extra, sig=u.sig | extra) if extra - u.stems else u)
    return out


# What a unit gains when its chunk is among the retriever's best three for the question: the
# retriever matched chunks on more than shared words (expansions, vectors).
CHUNK_BONUS = (0.5, 0.25, 0.1)


def specificity(units: Sequence[Unit], title: str = "") -> dict[str, float]:
    """Each word's weight in one fiche: a word most of its sentences share (its matter:
    "taxe", "bureaux") says little about which sentence answers; a word few of them hold
    ("samedi", "vacants") points at the one. From IDF_FLOOR (in every unit) to IDF_FLOOR +
    IDF_SPAN (in one). A word of the fiche's `title` weighs TITLE_WORD_SHARE of that: it
    says which fiche, and the fiche's summary repeats it ("fin de vie" in "Directives
    anticipées : … en fin de vie"), not which sentence ("sous tutelle")."""
    n = len(units)
    df: dict[str, int] = {}
    for u in units:
        for s in u.stems:
            df[s] = df.get(s, 0) + 1
    top = math.log(n + 1)
    in_title = stem_set(title) if title else frozenset()
    return {
        s: (IDF_FLOOR + IDF_SPAN * math.log((n + 1) / k) / top)
        * (TITLE_WORD_SHARE if s in in_title else 1.0)
        for s, k in df.items()
    }


IDF_FLOOR = 0.3
IDF_SPAN = 1.4
TITLE_WORD_SHARE = 0.6


def _weighted(stems: frozenset[str], weights: dict[str, float] | None) -> float:
    if weights is None:
        return float(len(stems))
    return sum(weights.get(s, 1.0) for s in stems)


def score(
    u: Unit,
    p: Profile,
    section_stems: frozenset[str],
    *,
    qr: bool = False,
    weights: dict[str, float] | None = None,
    fiche_kin: frozenset[str] | None = None,
) -> float:
    """How well a unit answers the question (`qr`: the fiche is a question-answer one,
    whose first sentences answer its title's question; `weights`: each word's
    `specificity` in the fiche, else every word counts 1; `fiche_kin`: the relatives the
    fiche's cases are for when they are by kinship, `kin_cases`, else None)."""
    if not u.stems and not (u.has_amount or u.has_delay):  # "138 €" under its case title
        return -1.0
    # a case that states what the question says the person lacks is the other case ("Vous
    # avez un justificatif à votre nom" for "pas de facture à son nom"), unless it says it
    # lacks it too ("Absence d'assurance du locataire" for "locataire sans assurance"): the
    # words lacked match nothing in it
    denied = (section_stems & p.negated) - u.case_lacks
    asked = p.stems - denied
    if p.ages and _measures_other(u.section):
        # the unit of the person's age told ("15 ans") says nothing of a range the case
        # title measures something else with ("Date d'expiration : moins de 5 ans")
        section_stems = section_stems - _YEAR_STEMS
    section_overlap = len(asked & section_stems) + CONTEXT_WEIGHT * len(p.context & section_stems)
    s = max(
        _matched(stems, words, asked, p.context, weights)
        for stems, words in ((u.stems, u.norm_words), *u.items)
    )
    s += 0.7 * section_overlap
    # a fine's amount or a prison term answers no "combien ?" but "il risque quoi ?"
    kind_fits = not u.penalty or p.penalty
    # a rate answers the amount of what the question asks it of ("l'abattement c'est combien
    # ?": "un abattement forfaitaire pour frais de 71 %")
    named = bool(p.amount_of & u.stems) and not u.example and _names_figure_of(u.text, p.amount_of)
    if p.amount and (u.has_amount or (named and u.has_rate)) and kind_fits:
        s += 1.6 + (AMOUNT_OF_BONUS if named else 0.0)
    if p.delay and u.has_delay and kind_fits:
        s += 1.0
    if p.penalty and u.penalty:
        s += PENALTY_BONUS
    if p.rate and u.has_rate:
        s += RATE_BONUS
    if p.age and u.states_age and not u.is_list:
        s += AGE_BONUS
    if u.is_list and (p.listing or (p.needed and section_overlap and _lists_needs(u))):
        s += 1.2 + 0.8 * section_overlap
    if p.silence and u.on_silence:
        s += SILENCE_BONUS
    if p.count and u.has_number:
        s += COUNT_BONUS
    if p.figures and p.figures & figure_keys([u.text]):
        s += FIGURE_BONUS
    if p.measures and p.measures & _text_measures(u.text):
        s += MEASURE_BONUS
    if p.where and (u.is_where or u.has_place):
        s += 1.2 if u.is_where else 0.9
    if p.yes_no and not u.is_list:
        # a yes/no question: the sentence that says yes or no ("Oui, ...", "n'est plus
        # obligatoire"), and the fiche's opening ones, which hold the answer in a
        # question-answer fiche
        if not u.section and u.order < 3:
            s += 1.0 if qr else 0.4
        if u.says_yes_no:
            s += 0.8
    if denied:
        s -= NEGATED_CASE
    fits = _case_fits(u.section, p)
    if fits is None and fiche_kin is not None:
        fits = _kin_fits(_case_title(u.section), p.kin, fiche_kin)
    sum_fits = _sum_fits(u.section, p) if fits is None else None
    if sum_fits is not None:
        s += SUM_FIT if sum_fits else -SUM_FIT
    if (
        p.yes_no
        and p.modal_verbs
        and not (u.is_list or u.says_yes_no or fits is False or sum_fits is False)
        and p.modal_verbs & modal_verbs(u.text)
    ):
        # what one may or must do, as asked, says yes or no too ("Tout mineur de moins de 16
        # ans peut être trésorier…" for "il peut être trésorier ?"), in a case that fits
        s += 0.8
    if fits is not None:
        # the case for the person's age, duration, year or side of 18 leads; another case is
        # left out ("S'il a entre 13 et 17 ans" for a 12-year-old, "Vous êtes né(e) en 2001"
        # for someone born in 1996)
        if not fits:
            return -1.0
        s += 1.0
    elif (p.ages or _years(p) or p.things or p.measured) and u.is_list:
        # a table with a row for the person's age range or year answers as such a sentence
        # does
        rows = (x[2:] for x in u.text.splitlines() if x.startswith("- "))
        if any(_row_fit(row, p) for row in rows):
            s += 1.0
    elif p.ages:
        # a row or a sentence for the person's age range leads; a row for another age is left
        # out ("Moins de 55 ans – Durée de validité : 5 ans" for a 62-year-old)
        for_age = _age_fit(u.text, p.ages)
        if for_age is False:
            return -1.0
        if for_age:
            s += 1.0
    if u.example:
        s -= 0.8  # an illustration, not the rule
    if u.places and not u.places & p.elsewhere:
        s -= 1.0
    elif not u.section:
        s += 0.3
    if u.norm_words > 90 and not (p.listing and u.is_list):
        s -= 0.6
    return s + _chunk_bonus(u) - 0.004 * u.order


def _matched(
    stems: frozenset[str],
    words: int,
    asked: frozenset[str],
    context: frozenset[str],
    weights: dict[str, float] | None,
) -> float:
    """The words of the question a text holds, for its length."""
    overlap = _weighted(asked & stems, weights) + CONTEXT_WEIGHT * _weighted(
        context & stems, weights
    )
    return overlap / math.sqrt(1 + 0.1 * min(words, 120))


def _chunk_bonus(u: Unit) -> float:
    return CHUNK_BONUS[u.chunk_rank] if 0 <= u.chunk_rank < len(CHUNK_BONUS) else 0.0


# A sentence that answers yes or no ("Oui, ...", "n'est plus obligatoire", "est en droit").
_YES_NO_ANSWER_RE = re.compile(
    r"^(?:oui|non|pas d[e'])\b"
    r"|\b(?:n'est (?:pas|plus) |est )(?:obligatoire|interdite?|autorisee?|possible)"
    r"|\b(?:n'a pas|a) le droit\b|\best en droit\b|\b(?:ne )?peut (?:pas |librement )"
    r"|\bpas (?:oblige|tenue?)\b|\baucun delai\b"
)


SIMILAR_SHARE = 0.8
SAME_OPENING_SHARE = 0.6  # of two sentences that open alike (their first OPENING_WORDS)


def similar(a: frozenset[str], b: frozenset[str], share: float = SIMILAR_SHARE) -> bool:
    """Two units say nearly the same thing (`share` of their content words shared)."""
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= share


@dataclass(slots=True)
class Picked:
    ctx: SourceContext
    units: list[Unit]  # the direct answer first, then reading order
    best: float
    follows: int = 0  # units quoted only because they follow the lead (not counted in the cap)
    weights: dict[str, float] = field(default_factory=dict)  # the fiche's `specificity`


def _item_keys(u: Unit) -> set[str]:
    if not u.is_list:
        return {u.key}
    return {fold(x[2:]).strip() for x in u.text.splitlines() if x.startswith("- ")}


def _trim_list(u: Unit, shown: set[str], max_items: int, min_items: int = 2) -> Unit | None:
    """The list without the items already shown, at most `max_items` of them (none when
    fewer than `min_items` are left)."""
    lines = u.text.splitlines()
    lead = [x for x in lines if not x.startswith("- ")]
    items = [x for x in lines if x.startswith("- ") and fold(x[2:]).strip() not in shown]
    if len(items) < min_items:
        return None
    if len(items) > max_items:
        items = [*items[:max_items], "- …"]
    text = "\n".join([*lead, *items])
    return _unit(text, u.section, u.order, True) if text != u.text else u


def _rows_for_person(u: Unit, p: Profile) -> Unit:
    """A table's rows for the person's age or year as told: the rows stating an age range
    that leaves it out are left out ("Âgé de moins de 18 ans ; … 130,34 €" for "jeune 19
    ans", which keeps "Âgé de 18 à 25 ans ; … 310,39 €"), and so are the rows named by
    another year ("1973 ou après – Durée d'assurance (en trimestres) : 172" for someone born
    in 1958); rows stating neither stay, and a table whose every row is for another age or
    year is kept whole (its rows are what there is)."""
    if not (p.ages or _years(p) or p.things or p.measured) or not u.is_list:
        return u
    lines = u.text.splitlines()
    fits = {x: _row_fit(x[2:], p) for x in lines if x.startswith("- ")}
    if False not in fits.values() or set(fits.values()) == {False}:
        return u
    kept = [x for x in lines if fits.get(x) is not False]
    return _unit("\n".join(kept), u.section, u.order, True)


def _row_age_fit(item: str, ages: tuple[tuple[float, str], ...]) -> bool | None:
    """Whether an age range a table's row states holds the person's age (None: it states
    none, or it is a list's item, not a row of cells: "Enfant qui a moins de 21 ans…" in a
    list of heirs is no row for a 17-year-old's case)."""
    if " ; " not in item or " : " not in item:
        return None
    ranges = [r for r in span_ranges(item) if r[2] == "ans"]
    if not ranges:
        return None
    return any(lo <= a <= hi for lo, hi, _ in ranges for a, unit in ages if unit == "ans")


def _for_person(u: Unit, p: Profile) -> bool:
    """Whether each of a table's rows, fewer than NARROWED_ROWS, is for the person's age or
    year as told (rows stating neither are not)."""
    rows = [x[2:] for x in u.text.splitlines() if x.startswith("- ")]
    return 0 < len(rows) < NARROWED_ROWS and all(_row_fit(x, p) for x in rows)


def _years(p: Profile) -> tuple[tuple[float, str], ...]:
    return tuple(s for s in p.spans if s[1] == "année")


def _row_year_fit(item: str, years: tuple[tuple[float, str], ...]) -> bool | None:
    """Whether the year or period a table's row is named by ("1958 – Durée d'assurance (en
    trimestres) : 167", "2012 – Date de validité – Date inscrite sur la carte : 2022 ; …")
    holds a year the question states; None when the row is named by none."""
    row = _ROW_CELL_RE.match(item)
    return span_fit(row.group(1), years) if row is not None and years else None


def _row_thing_fit(item: str, things: tuple[tuple[float, str], ...]) -> bool | None:
    """Whether a table's row stating a count of a thing the question counts holds the
    question's count ("Véhicule porteur à 2 essieux" for "porteur 2 essieux", not "… à 3
    essieux"); None when the row counts none of them."""
    if not things or not ((" ; " in item and " : " in item) or _ROW_CELL_RE.match(item)):
        return None
    fits = [lo <= n <= hi for lo, hi, key in thing_ranges(item) for n, k in things if k == key]
    return any(fits) if fits else None


def _row_measure_fit(item: str, measured: tuple[tuple[float, str], ...]) -> bool | None:
    """Whether a table's row stating a range of a measure the question states holds it ("De
    8 m à moins de 9 m – Droit : 105 €" for "un bateau de 8 m", not "De 9 m à moins de 10
    m"); None when the row measures none of them."""
    if not measured or not ((" ; " in item and " : " in item) or _ROW_CELL_RE.match(item)):
        return None
    # the row's first cell names it by the range it ends on ("Longueur en mètre (m) : De 8 m
    # à moins de 9 m", "Surface de plancher ou emprise au sol supérieure à 20 m²"); a measure
    # within a description is no name ("Salle … de moins de 1 200 m² ou d'une hauteur sous
    # plafond de plus de 6,50 m")
    first = re.split(r" ; | – ", item, maxsplit=1)[0].rstrip(" .")
    last = first.split(" ou ")[-1]
    if not ends_on_measure(last):
        return None
    fits = [
        lo <= v <= hi for lo, hi, unit in measure_ranges(last) for v, u in measured if u == unit
    ]
    return any(fits) if fits else None


def _row_fit(item: str, p: Profile) -> bool | None:
    """Whether a table's row is for the person's age and year as told, and for the count of
    things and the measures the question states (`_row_age_fit`, `_row_year_fit`,
    `_row_thing_fit`, `_row_measure_fit`); None when it states none of them."""
    fits = (
        _row_age_fit(item, p.ages),
        _row_year_fit(item, _years(p)),
        _row_thing_fit(item, p.things),
        _row_measure_fit(item, p.measured),
    )
    known = [f for f in fits if f is not None]
    return all(known) if known else None


NARROWED_ROWS = 3  # a table narrowed to fewer rows than this reads as a sentence
MIN_CONTAINED_KEY = 40  # characters: shorter sentences may well be part of another


@dataclass(slots=True)
class Shown:
    """What the draft already says: unit keys, list items and each unit's content words."""

    keys: set[str] = field(default_factory=set)
    sigs: list[tuple[frozenset[str], str, bool]] = field(default_factory=list)
    # the sentences shown joined after another (`Unit.tail`)
    tails: list[tuple[frozenset[str], str, bool]] = field(default_factory=list)

    def add(self, u: Unit) -> None:
        self.keys |= _item_keys(u)
        if not u.is_list or u.opens_on_sentence:
            self.sigs.append((u.sig, u.opening, u.denies))
        self.tails.extend(u.tail)

    def repeats(self, u: Unit) -> bool:
        return (
            u.key in self.keys
            # a sentence quoted already inside a joined unit (a leaning sentence after its
            # antecedent, `_with_antecedents`), whose own key was never added
            or (len(u.key) >= MIN_CONTAINED_KEY and any(u.key in k for k in self.keys))
            or (not u.is_list and any(_says_again(u, *shown) for shown in self.sigs))
            # or in other words ("Sa durée est fixée à 3 mois renouvelables…" after its
            # antecedent, then "La durée du congé est fixée à 3 mois renouvelables…"), when
            # the unit says little more ("Il peut aussi interdire tout alcool." does not stand
            # for "L'employeur peut aussi limiter ou interdire, pour la sécurité…")
            or (
                not u.is_list
                and any(
                    _says_again(u, *shown) and len(u.sig & shown[0]) >= SIMILAR_SHARE * len(u.sig)
                    for shown in self.tails
                )
            )
        )


def _says_again(u: Unit, sig: frozenset[str], opening: str, denies: bool) -> bool:
    """The unit says what a shown one says (given its content words and figures, its
    opening, whether it denies): most of their words alike, or more than half for two
    sentences that open alike ("Tout membre … peut librement
    démissionner à tout moment s'il est à jour de ses cotisations et respecte…" / "… (si le
    paiement de cotisations est prévu…)"); never when one denies what the other affirms
    ("… vos recettes ne dépassent pas 170 000 €, … micro-BIC" / "… dépassent 170 000 €, …
    régime réel": two rules) or when their figures differ ("… 170 000 € en 2019" / "…
    176 200 € en 2020")."""
    if u.denies != denies or not _same_figures(_figures(u.sig), _figures(sig)):
        return False
    if u.opening and u.opening == opening:
        return similar(u.sig, sig, SAME_OPENING_SHARE)
    return similar(u.sig, sig)


_DENIES_RE = re.compile(r"\b(?:ne|n|pas|aucune?|jamais|sans)\b")


def _denies(folded: str) -> bool:
    return bool(_DENIES_RE.search(folded))


def _figures(sig: frozenset[str]) -> frozenset[str]:
    return frozenset(x for x in sig if x[:1].isdigit())


_YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _same_figures(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same figures, but for the year one of them names and the other does not ("La
    taxe foncière 2020 … est due par les propriétaires…" / "La taxe foncière … est due par
    les propriétaires…"; not "170 000 € en 2019" / "176 200 € en 2020", nor "0,319 € par
    kilomètre (en 2019 déclaré en 2020)", a scale of its year)."""
    if a == b:
        return True
    years = [{x for x in f if _YEAR_RE.fullmatch(x)} for f in (a, b)]
    return len(years[0] | years[1]) == 1 and a - years[0] == b - years[1]


def pick(
    ctx: SourceContext,
    p: Profile,
    *,
    budget_words: int,
    max_units: int,
    shown: Shown,
    asked_places_only: bool = False,
    floor_share: float = 0.0,
    brief: bool = False,
    naming: str | None = None,
) -> Picked | None:
    """The units of one source that answer the question: the best one, then those scoring
    close to it, within a reading budget; lists whole (capped when no list was asked for);
    nothing the draft already says, even in other words."""
    title = fold(ctx.source.title)
    every = fiche_units(ctx)
    units = [
        u
        for u in every
        if u.key != title
        and not u.is_service
        and not shown.repeats(u)
        and not (asked_places_only and u.places and not u.places & p.elsewhere)
        and (naming is None or naming in u.stems | u.section_stems)
    ]
    if not units:
        return None
    qr = ctx.source.title.rstrip().endswith("?")
    weights = specificity(every, title=ctx.source.title)
    # "il lui faut quoi ?" asks for the fiche's list of pièces or conditions, when it has one,
    # rather than its summary
    overview = _overview(p, ctx.source.title) and not (
        p.needed and any(u.is_list and _lists_needs(u) for u in units)
    )
    fiche_kin = kin_cases(u.section for u in every) if p.kin else None
    scored = sorted(
        (
            (
                score(u, p, u.section_stems, qr=qr, weights=weights, fiche_kin=fiche_kin)
                + (OVERVIEW_BONUS if overview and _summary(u) else 0.0),
                u,
            )
            for u in units
        ),
        key=lambda t: (-t[0], t[1].order),
    )
    # a fiche quoted beside the first ("Voir aussi", `brief`) gives one list, of 6 items
    max_items = MAX_LIST_ITEMS if (p.listing or p.needed) and not brief else BRIEF_LIST_ITEMS
    max_lists = 2 if p.listing and not brief else 1
    mine = Shown(set(shown.keys), list(shown.sigs), list(shown.tails))
    chosen: list[Unit] = []
    best_score = scored[0][0]
    floor = max(0.3, best_score * max(FLOOR_SHARE, floor_share))
    words = lists = extra_lists = 0
    for s, u in scored:
        if chosen and (s < floor or len(chosen) >= max_units):
            break
        if len(chosen) >= 4 and s < best_score * BEYOND_FOUR_SHARE:
            break
        narrowed = False
        if u.is_list:
            rows = _rows_for_person(u, p)
            # one table narrowed to its rows for the person's age, year or count of things
            # comes in beside another list, as a sentence would; its one row is worth
            # quoting alone
            # (a piece of a table already quoted is no other table: a long table's chunks)
            narrowed = (
                rows is not u
                and _for_person(rows, p)
                and not any(c.text.split("\n", 1)[0] == u.text.split("\n", 1)[0] for c in chosen)
            )
            if lists >= max_lists + (narrowed and not extra_lists):
                continue
            extra_lists += lists >= max_lists
            trimmed = _trim_list(rows, mine.keys, max_items, 1 if rows is not u else 2)
            if trimmed is None:
                continue
            u = trimmed
        elif mine.repeats(u) or (chosen and words + u.n_words > budget_words):
            continue
        if any(u.key in c.key or c.key in u.key for c in chosen):
            continue
        chosen.append(u)
        mine.add(u)
        lists += u.is_list
        words += 0 if u.is_list else u.n_words
    if not chosen:
        return None
    # the answer leads; the office to contact ("Où s'adresser : Préfecture…"), an example
    # ("Par exemple, un électeur inscrit à Paris…"), an aside ("À savoir : …") and a sentence
    # pointing back ("S'il choisit cette dernière solution…") or leaning on a sentence not
    # shown ("En plus, …": left unjoined, its antecedent was a title or too long) follow it;
    # a list or a table leads only when one was asked for, or nothing else comes close
    # a sentence giving a name ("On parle aussi de recours collectif.") does not lead either
    # a sentence that leans on the one before leads only with it ("Un seul justificatif de
    # domicile est nécessaire. … Il peut s'agir par exemple d'un des documents suivants :")
    leads = [
        u
        for u in chosen
        if not (u.is_where or u.example or u.aside or u.refers_back)
        and not (u.leans and _antecedent(u, every) is None)
        and not _NAMING_RE.match(fold(u.text))
    ]
    lead = leads[0] if leads else chosen[0]
    if overview and (summary := [u for u in leads if _summary(u)]):
        lead = min(summary, key=lambda u: u.order)  # the fiche's summary first, in its order
    if (
        p.needed
        and not lead.is_list
        and (needs := [u for u in leads if u.is_list and _lists_needs(u)])
    ):
        # "que faut-il pour son passeport ?": the list of pièces leads, not the sentence of
        # the case that fits the person best
        lead = needs[0]
    if lead.is_list and not (p.listing or (p.needed and _lists_needs(lead))):
        close = [(s, u) for s, u in scored[:8] if u in leads and not u.is_list]
        close = [(s, u) for s, u in close if s >= 0.7 * best_score]
        # unless its lead-in says the answer as well on its own ("La saisine de la CDC est
        # un préalable obligatoire avant tout recours au juge pour les litiges suivants :")
        if close and _lead_in_score(lead, p, qr, weights) < close[0][0]:
            lead = close[0][1]
    rest = sorted((u for u in chosen if u is not lead), key=lambda u: u.order)
    # the sentence the fiche writes right after the answer, and after the best of the
    # others, when it completes it
    follows = 0
    if max_units >= FOLLOWER_MIN_UNITS:
        best_other = next((u for _, u in scored if any(u is r for r in rest)), None)
        for u in (lead, best_other):
            follower = _follower(u, every, scored, mine) if u is not None else None
            if follower is not None:
                rest = sorted([*rest, follower], key=lambda v: v.order)
                mine.add(follower)
                follows += 1
    lead, *rest = _with_antecedents([lead, *rest], every, mine)
    # how well the fiche answers, to weigh it against other fiches: its best unit's own score,
    # every word counting 1 (a word's specificity is relative to its fiche), without the
    # bonus of the retriever's best chunks (every fiche has best chunks: across fiches it
    # says nothing)
    top = scored[0][1]
    return Picked(
        ctx,
        [lead, *rest],
        score(top, p, top.section_stems, qr=qr) - _chunk_bonus(top),
        follows=follows,
        weights=weights,
    )


# The sentence right after the lead in its section (and the one after the best of the other
# sentences chosen) is quoted with it when it completes it (`_completes`): "Le délai de
# réponse est de 7 jours" then "Le délai de réponse passe à 9 jours calendaires quand la DICT
# n'est pas dématérialisée"; "L'opérateur doit vous fournir une facture détaillée" then "Si
# vous la demandez en cours de contrat, votre opérateur a 10 jours ouvrés…". Only in a
# fiche's full answer (not a "Voir aussi" of one or two sentences), short ones, and beyond
# the count of sentences the draft allows.
FOLLOWER_MIN_UNITS = 4
FOLLOWER_MAX_WORDS = 35


def _follower(
    lead: Unit, every: list[Unit], scored: list[tuple[float, Unit]], shown: Shown
) -> Unit | None:
    """The unit right after the lead in its section when it completes it: a sentence (not a
    list, an example, an aside or a link), short, one the scorer does not set aside (a row
    for another age), not in the draft yet, with a figure, a delay, a place or a condition."""
    # (orders repeat across sections: the unit after is the next of the lead's own section)
    after = next(
        (v for v in every if v.order == lead.order + 1 and v.section == lead.section), None
    )
    if (
        after is None
        or after.is_list
        or after.example
        or after.aside
        or after.is_service
        or after.n_words > FOLLOWER_MAX_WORDS
        or shown.repeats(after)
        or not _completes(after)
    ):
        return None
    return after if next((s for s, u in scored if u is after), -1.0) > 0.0 else None


# A sentence opening on a condition or an exception ("Si vous la demandez en cours de
# contrat, …", "Toutefois, …", "Passé ce délai, …", "Sauf …")
_CONDITION_OPENING_RE = re.compile(
    r"^(?:si|s'il|s'ils|sauf|toutefois|cependant|en revanche|en cas|passe ce delai|a defaut"
    r"|sinon|lorsqu|lorsque|dans ce cas|au-dela|en l'absence)\b"
)


def _completes(u: Unit) -> bool:
    """The sentence right after the lead completes it: a figure, a date or a delay, a place
    to go, or a condition or an exception to it."""
    return (
        u.has_amount
        or u.has_delay
        or u.has_number
        or u.has_place
        or bool(_CONDITION_OPENING_RE.match(fold(u.text.lstrip())))
    )


def _lists_needs(u: Unit) -> bool:
    """A list headed as one of what is needed: its section's titles or its lead-in name
    pièces, documents, conditions, steps… ("Pièces à fournir › L'enfant a une carte
    d'identité valide", "Vous devez respecter les conditions suivantes :")."""
    lead_in = u.text.split("\n", 1)[0]
    return bool(_LIST_Q_RE.search(fold(f"{u.section} {lead_in}")))


# What the fiche's summary gains when the question asks about the fiche's whole matter.
OVERVIEW_BONUS = 1.0
SUMMARY_UNITS = 3  # the fiche's opening sentences (see _summary)


def _overview(p: Profile, title: str) -> bool:
    """The question names nothing beyond the fiche's title and asks no kind of answer
    ("renouveler un passeport" of "Renouvellement du passeport d'un majeur"): its summary,
    which says where to go and what it costs, answers it before any one section's detail
    ("L'ancien passeport doit être restitué.", a short sentence holding "passeport")."""
    kinds = (
        p.amount or p.delay or p.listing or p.where or p.yes_no or p.penalty or p.silence or p.count
    )
    if not p.stems or kinds:
        return False
    title_stems = stem_set(title)
    # every word in the title, or the person told of in the title's words: "mon fils a 15
    # ans, il veut un premier passeport" of "Passeport d'un mineur : première demande"
    # ("fils": mineur; the age's "ans" set aside); "il lui faut quoi ?" too, when the fiche
    # lists no pièces or conditions (see `pick`)
    return p.stems <= title_stems or (bool(p.words) and all(w & title_stems for w in p.words))


def _summary(u: Unit) -> bool:
    """One of the fiche's opening sentences: before any section, or at the head of the first
    of its situations ("En France" of a fiche written for France and abroad)."""
    return " › " not in u.section and u.order < SUMMARY_UNITS and not u.is_list


def _lead_in_score(u: Unit, p: Profile, qr: bool, weights: dict[str, float]) -> float:
    """A list's score on its lead-in sentence alone (-inf when it has none, or is a
    table's)."""
    head = u.text.split("\n", 1)[0]
    if head.startswith("- ") or _TABLE_ROW_RE.search(u.text):  # a table never leads
        return -math.inf
    alone = replace(_unit(head, u.section, u.order, False), chunk_rank=u.chunk_rank)
    return score(alone, p, alone.section_stems, qr=qr, weights=weights)


# A sentence this long at most is quoted before the one that leans on it (see
# _with_antecedents).
ANTECEDENT_WORDS = 40


def _may_precede(prev: Unit, u: Unit) -> bool:
    """Whether `prev`, the unit before `u` in the fiche, may be quoted before it as its
    antecedent: same section, not a list, an example or an aside, short, a whole sentence."""
    return (
        prev.section == u.section
        and not (prev.is_list or prev.example or prev.aside)
        and prev.n_words <= ANTECEDENT_WORDS
        and prev.text.rstrip().endswith((".", "!", "…"))
    )


def _antecedent(u: Unit, every: list[Unit]) -> Unit | None:
    """The sentence before `u` in the fiche when `_with_antecedents` would quote it with `u`."""
    i = next((k for k, v in enumerate(every) if v.order == u.order and v.text == u.text), 0)
    return every[i - 1] if i and _may_precede(every[i - 1], u) else None


def _with_antecedents(chosen: list[Unit], every: list[Unit], shown: Shown) -> list[Unit]:
    """Each chosen unit that leans on the sentence before it ("Toutefois, il hérite par
    représentation… dans les 3 cas suivants :", "Si ces montants sont dépassés, …") is quoted
    right after that sentence: alone, or after another, it says something else. The two were
    not joined when the fiche was read because one of them is a list, or both are too long
    together for every question; here they are wanted. When the sentence before is chosen
    too, the two become one; when it is not, it is added, unless it is a list, an example, an
    aside, too long, already in the draft, or in another section (the title stands for it).
    Run once the lead is chosen: a sentence that leans leads only when its antecedent can be
    quoted with it (`_antecedent`), and then does, before it. A sentence naming back further
    on ("… même en dessous de ce chiffre d'affaires", `points_back`) is joined after the
    sentence before only when both were chosen; when it is the lead, the two lead
    together."""
    if not any((u.leans or u.points_back) and not u.aside for u in chosen):
        return chosen  # most picks: nothing to look up
    # a unit's place in the fiche: its order and text (orders alone repeat across sections; a
    # list trimmed of items shown already is found by its order alone)
    position = {(u.order, u.text): i for i, u in enumerate(every)}
    first_at: dict[int, int] = {}
    for i, u in enumerate(every):
        first_at.setdefault(u.order, i)
    out: list[Unit | None] = list(chosen)
    for k, u in enumerate(chosen):
        i = position.get((u.order, u.text), first_at.get(u.order, 0))
        if i == 0:
            continue
        prev = every[i - 1]
        # where the sentence before stands in the draft (None: not chosen)
        at = next((j for j, c in enumerate(out) if c is not None and c.text == prev.text), None)
        # a sentence naming something of the one before further on ("ce chiffre
        # d'affaires") is joined to it only when both are chosen
        if not (
            (u.leans or (u.points_back and at is not None))
            and not u.aside
            and _may_precede(prev, u)
        ):
            continue
        joined = _unit(f"{prev.text} {u.text}", u.section, prev.order, u.is_list)
        # both chosen: one unit where the sentence before stood, told apart as that sentence;
        # else the leaning one's place, told apart as itself
        like, other = (prev, u) if at is not None else (u, prev)
        merged = replace(
            joined,
            norm_words=like.norm_words,
            sig=like.sig,
            denies=like.denies,
            tail=like.tail
            if other.is_list
            else (*like.tail, (other.sig, other.opening, other.denies)),
            chunk_rank=like.chunk_rank,
            places=like.places,
            opens_on_sentence=at is not None and u.is_list,
        )
        if at is not None and k == 0:  # the lead, with the sentence it names back
            out[0], out[at] = merged, None
        elif at is not None:
            out[at], out[k] = merged, None
        elif not shown.repeats(prev):
            out[k] = merged
    return [u for u in out if u is not None]


def _sections(units: list[Unit]) -> set[str]:
    """The first-level sections the units come from."""
    return {u.section.split(" › ")[0] for u in units if u.section}


def _cases(units: list[Unit], case_titles: frozenset[str]) -> bool:
    """The units come from several situations of the fiche: first-level sections that are
    cases (`case_titles`: its Situation and Cas blocks), not chapters ("Qui est concerné ?",
    "Démarche"), which hold no alternatives."""
    tops = _sections(units)
    return len(tops) > 1 and tops <= case_titles


def _line(u: Unit, n: int) -> str:
    if u.is_list:
        lines = u.text.splitlines()
        return "\n".join([*lines[:-1], f"{lines[-1]} [{n}]"])
    return f"{u.text} [{n}]"


# The words that say what kind of link a service is, not what it is about.
_SERVICE_FORM_WORDS = stem_set(
    "demande demander déclaration déclarer formulaire modèle document simulateur téléservice "
    "service ligne compte espace dossier accéder effectuer faire"
)


def _services(pk: Picked, question: str, limit: int = 2) -> list[dict]:
    """The fiche's online services and forms that speak of the question, of the fiche's
    matter (its title) or of what the answer quotes from it, best first: a fiche on
    artisans' social benefits lists "Mon compte retraite", no link for a question on sick
    pay."""
    said = _stems_with_synonyms(question).union(
        stem_set(pk.ctx.source.title), *(u.stems for u in pk.units)
    )
    said -= _SERVICE_FORM_WORDS
    services = [
        s
        for s in pk.ctx.source.services
        # "Pré-plainte en ligne" speaks of a "plainte"
        if s.get("url") and said & stem_set((s.get("title") or "").replace("-", " "))
    ]
    q = stem_set(question)
    services.sort(key=lambda s: -len(q & stem_set(s.get("title") or "")))
    return services[:limit]


REQUEST_MIN = 1.5  # a unit's score for a request to count as an answer to it
RUNNER_UP_SHARE = 0.55  # see _select
# the other fiche's second sentence must score this share of its best: its best is often
# the answer the first fiche missed, and the next one completes it ("Les 2 périodes durent
# chacune 4 semaines" after what the soldes are)
SECOND_UNIT_SHARE = 0.85
# ... and half of it for the retriever's second fiche when it is a question-answer fiche
# ("Peut-on cumuler le RSA avec l'ASS ou l'Aspa ?"): the whole fiche answers its title's
# question, and its next sentence is the condition or the figure ("Le montant du RSA sera
# réduit du montant de l'Aspa", "Elle ne peut toutefois pas excéder 2 ans")
QR_SECOND_UNIT_SHARE = 0.5
# When the second stage scored the retriever's second fiche within NEAR_TIE_SCORE of its
# first, an agent's question names it too, with a sentence scoring NEAR_TIE_SHARE of the
# first fiche's best, even when the first filled the answer: retrieval was unsure which one
# is meant ("Comment remplacer un passeport abîmé ?" beside the passport's renewal)
NEAR_TIE_SCORE = 0.5
NEAR_TIE_SHARE = 0.3


def _select(
    question: str,
    contexts: Sequence[SourceContext],
    requests: Sequence[str],
    settings,
    *,
    reply: bool = False,
) -> list[Picked]:
    """The sources to use and their units.

    The first source always. Then each request of a message that the draft does not answer
    yet: what the first source says of it, else the source retrieval found for it, when
    that source really speaks of it (its title shares a word with the request, and every
    word of the first source's title the request names, and a unit scores well). Once, a
    source that matches the question about as well as the first (one unit, two when the
    next scores nearly as well as its best: the answer stays short enough to read in 20
    seconds); for the retriever's second
    fiche, half as well will do (RUNNER_UP_SHARE of the first's best): when retrieval misses,
    the fiche meant is most often that one, and its link costs the agent one sentence. In a
    reply to a citizen (`reply`, or a message with requests) any other fiche's title must
    also name the matter (two words of the message): the retriever's second fiche was ranked
    on the whole message, and its title often names none of the citizen's words ("CPF de
    transition" for a paid retraining leave)."""
    if not contexts:
        return []
    p = profile(question, requests)
    shown = Shown()
    cap = max(1, settings.extractive_max_sentences)
    # each request beyond the first may take one more sentence (two at most); a reply to a
    # citizen one more too; the first fiche leaves one for another
    more = min(2, max(0, len(requests) - 1)) + (1 if reply else 0)
    first = pick(
        contexts[0],
        p,
        budget_words=MAX_WORDS + MORE_WORDS * more,
        max_units=max(min(4, cap), min(4 + more, cap - 1)),
        shown=shown,
    )
    if first is None:
        return []
    for u in first.units:
        shown.add(u)
    picked = [first]
    left = cap - len(first.units) + first.follows
    first_title = stem_set(contexts[0].source.title)
    others = contexts[1 : settings.extractive_max_sources]
    asks = list(requests) if len(requests) > 1 else _parts(question)
    weights = first.weights
    for r, request in enumerate(asks):
        if left <= 0:
            break
        pr = profile(question, [request], one_request=True)
        said = [u for pk in picked for u in pk.units]
        # a part of an agent's question is answered by a sentence naming what it asks about
        # that the fiche says least often ("elle doit résilier elle-même ?": "résilier", in
        # a fiche where every sentence names the "fournisseur d'électricité")
        known = (pr.stems - _KIND_WORDS) & weights.keys()
        # (ties to the first in alphabetical order: a set's order changes from run to run)
        key = max(sorted(known), key=lambda w: weights[w]) if known and not requests else None
        if any(
            _answers(u, pr, on_topic=not requests)
            and (key is None or key in u.stems | u.section_stems)
            for u in said
        ):
            continue
        # from the fiche already chosen, a unit of the kind asked (the office, the price)
        # is enough; otherwise it must speak of the request; one naming the part's least
        # common word first
        adds = []
        for naming in dict.fromkeys([key, None]):
            more = pick(
                contexts[0],
                pr,
                budget_words=MAX_WORDS // 2,
                max_units=2,
                shown=shown,
                naming=naming,
                # a special place's case (abroad, overseas, Paris) answers a part only when
                # the question names that place
                asked_places_only=True,
            )
            # a list asked of one thing is answered by the fiche's heading for that thing,
            # list or not: "conditions d'âge ?" by "Conditions liées au veuf › Âge : Vous
            # devez avoir moins de 55 ans."
            headed = replace(pr, listing=False) if naming is not None and pr.listing else None
            adds = (
                [
                    u
                    for u in more.units
                    if _answers(u, pr, lenient=True)
                    or (headed and naming in u.section_stems and _answers(u, headed, lenient=True))
                ]
                if more
                else []
            )
            if adds:
                break
        if adds:
            rest = sorted([*first.units[1:], *adds], key=lambda u: u.order)
            first.units = [first.units[0], *rest]
            for u in adds:
                shown.add(u)
            left -= len(adds)
            continue
        for ctx in others if len(requests) > 1 else ():
            if ctx.request != r or any(pk.ctx is ctx for pk in picked):
                continue
            title = _matter_words(ctx)
            if not pr.stems & title or len((p.stems | p.context) & title) < 2:
                continue
            # a request about the first fiche's matter (it names a word of its title) is
            # answered from that matter: "où acheter la carte de pêche ?" by no "Carte
            # d'identité perdue : comment acheter un timbre fiscal ?"
            if (pr.stems & first_title) - stem_set(ctx.source.title):
                continue
            cand = pick(ctx, pr, budget_words=MAX_WORDS // 2, max_units=min(3, left), shown=shown)
            if cand is None or cand.best < REQUEST_MIN:
                continue
            picked.append(cand)
            for u in cand.units:
                shown.add(u)
            left -= len(cand.units)
            break
    # in a reply to a citizen, a fiche other than the retriever's second must have a title
    # speaking of its matter (two words of it): a sentence scoring well on one shared word
    # ("employeur") is no reason
    to_citizen = reply or bool(requests)
    # an agent's question that retrieval was unsure of names the other fiche too
    tie = not reply and _near_tie(contexts)
    if left <= 0 and tie:
        left = 1
    if left > 0:
        for ctx in others:
            if any(pk.ctx is ctx for pk in picked):
                continue
            runner_up = ctx.rank == 1 and contexts[0].rank == 0
            if (
                to_citizen
                and (not runner_up or ctx.source.fiche_id.startswith("R"))
                and len((p.stems | p.context) & _matter_words(ctx)) < 2
            ):
                continue
            if _other_side(p, ctx.source.title):
                continue
            # a second sentence only when it answers about as well as the fiche's best
            cand = pick(
                ctx,
                p,
                budget_words=MAX_WORDS // 2,
                max_units=min(2, left),
                shown=shown,
                asked_places_only=True,
                brief=True,
                floor_share=QR_SECOND_UNIT_SHARE
                if runner_up and ctx.source.title.rstrip().endswith("?")
                else SECOND_UNIT_SHARE,
            )
            # the retriever's second fiche needs a sentence half as good as the first
            # fiche's best (it is often the more specific fiche of the two); any other, one
            # as good
            share = (NEAR_TIE_SHARE if tie else RUNNER_UP_SHARE) if runner_up else 1.0
            if cand is not None and cand.best >= max(share * first.best, REQUEST_MIN):
                picked.append(cand)
                break
    return picked


def _near_tie(contexts: Sequence[SourceContext]) -> bool:
    """Whether the second stage scored the retriever's second fiche within NEAR_TIE_SCORE of
    its first (both given to the generator, in that order)."""
    if len(contexts) < 2 or contexts[0].rank != 0:
        return False
    runner_up = next((c for c in contexts[1:] if c.rank == 1), None)
    a, b = contexts[0].score, runner_up.score if runner_up else None
    return a is not None and b is not None and a - b <= NEAR_TIE_SCORE


def _matter_words(ctx: SourceContext) -> frozenset[str]:
    """The stems of a source's title that tell its matter: a form's or online service's
    title without the words of its kind ("Formulaire 15807*02 : Demande de réservation de
    nom … d'un navire" shares "formulaire" with any "quel formulaire ?"). A form is all title:
    it speaks of a citizen's matter only when its title names it, second fiche or not."""
    title = stem_set(ctx.source.title)
    if ctx.source.fiche_id.startswith("R"):
        # nor its two-letter stems: "en vue de" and "vu que" share "vu"
        return frozenset(w for w in title - _SERVICE_FORM_WORDS if len(w) > 2)
    return title


def _other_side(p: Profile, title: str) -> bool:
    """The fiche is titled for the side of 18 the question does not ask about ("Passeport
    d'un mineur" beside an adult's question), or for the other sector of employment ("Don
    de jours de repos à un salarié…" beside "agente de la mairie…"): it is not added. The
    question's side is read on its stems, everyday words included ("adulte", "enfant":
    `_SYNONYMS`)."""
    if p.employed and sector(title) not in (None, p.employed):
        return True
    asked = side_of_18(" ".join(p.stems | p.context))
    return asked is not None and side_of_18(title) not in (None, asked)


def _answers(u: Unit, p: Profile, *, lenient: bool = False, on_topic: bool = False) -> bool:
    """The unit answers the request: it speaks of it, and gives the kind of answer asked
    (an amount, a delay, a place, a list) when one is (`lenient`: giving it is enough;
    `on_topic`: it must name what the request is about beyond the kind of answer, as a part
    of an agent's question does in few words)."""
    wanted = [
        has
        for asked, has in (
            (p.amount, u.has_amount),
            (p.delay, u.has_delay),
            (p.where, u.is_where or u.has_place),
            (p.listing, u.is_list),
        )
        if asked
    ]
    if not all(wanted):
        return False
    if lenient and wanted:
        return True
    if on_topic:
        # what the request is about, beyond the kind of answer ("délai pour la demander":
        # the demande), must be what the unit speaks of: a duration of payment is no
        # deadline to ask
        topic = p.stems - _KIND_WORDS
        if topic and not topic & (u.stems | u.section_stems):
            return False
    return score(u, p, u.section_stems) >= REQUEST_MIN


# the corpus words the retriever read the question's typos and unaccented words as, after
# it in parentheses (`chains.answer._with_corrections`)
_READ_AS_RE = re.compile(r"\?\s*\(([^()?]*)\)\s*$")


def _parts(question: str) -> list[str]:
    """The questions of a question asked in several ("où le refaire ? c'est payant ?"):
    each gets its answer. The words the question was read as are no part of their own:
    each part takes those of its own words ("resilier" read "résilier")."""
    read_as: list[str] = []
    if m := _READ_AS_RE.search(question):
        read_as = m.group(1).split()
        question = question[: m.start() + 1]
    pieces = [
        x for p in question.split("?") for y in _AND_ASKS_RE.split(p) for x in _listed_asks(y)
    ]
    parts = []
    for piece in pieces:
        if not content_stems(piece):
            continue
        own = set(word_tokens(fold(piece)))
        read = [w for w in read_as if fold(w) in own]
        parts.append(f"{piece.strip(' ,;')}{' (' + ' '.join(read) + ')' if read else ''} ?")
    return parts if len(parts) > 1 else []


# What a clause asks with, in an agent's list of questions written with commas ("le
# document de voyage coûte combien, valable combien, demande où ?"): not "que" nor "qui",
# which are mostly relative pronouns in the telling of a situation, nor "de quoi" before a
# verb ("plus de quoi payer son loyer"), nor "cb" ("son paiement CB": the bank card)
# (folded text)
_LISTED_ASK_RE = re.compile(
    r"\b(?:combien|quand|comment|quel|quelle|quels|quelles|pourquoi|lequel|laquelle|qd)\b"
    r"|(?<!de )\bquoi\b|\b(?:ou|qui|quoi)\s*$"
)


def _listed_asks(piece: str) -> list[str]:
    """A piece of a question cut where it asks a second time after a comma: "coûte
    combien, valable combien, demande où" is three questions; the telling before the first
    ("monsieur reconnu apatride, carte de séjour pluriannuelle, il veut voyager, …") stays
    with it."""
    out: list[str] = []
    asks = False
    for seg in _LIST_SEP_RE.split(piece):
        seg_asks = bool(_LISTED_ASK_RE.search(fold(seg)))
        # "comment, combien ?": a question word alone asks of the same thing
        if seg_asks and asks and content_stems(seg):
            out.append(seg.lstrip(","))
            continue
        if out:
            out[-1] = f"{out[-1]}{seg}"
        else:
            out.append(seg)
        asks = asks or seg_asks
    return out


# where an agent's list of questions goes on: a comma, or "et" opening a clause ("il a
# combien de temps pour prévenir l'assurance et il envoie quoi ?")
_LIST_SEP_RE = re.compile(r"(?=,)|(?<=\s)(?=et\s)")


# "combien et quand elle tombe", "montant et délai pour la demander", "c'est combien et
# dans quel délai ?": a second question joined by "et" asks its own kind of answer.
_AND_ASKS_RE = re.compile(
    r"\s(?=et (?:(?:dans|[àa]|en|pour|par|avec|sous|sur|chez|aupr[eè]s de) )?"
    r"(?:quand|combien|o[uù]|comment|qui|quel|quelle|quels|quelles|si|c'est|[cç]a"
    r"|[àa] partir)\b)"
    r"|\s(?=et (?:le |la |les )?(?:d[ée]lai|dur[ée]e|montant|prix|co[uû]t|date)s?\b)",
    re.IGNORECASE,
)


def key_passages(
    question: str,
    contexts: Sequence[SourceContext],
    settings,
    requests: Sequence[str] = (),
) -> list[str]:
    """The units the draft would quote, each with its citation ("… [n]"): what a language
    model is pointed at first."""
    return [
        _line(u, pk.ctx.source.n).replace("\n", " ")
        for pk in _select(question, contexts, list(requests), settings)
        for u in pk.units
    ]


def compose(
    question: str,
    mode: str,
    contexts: Sequence[SourceContext],
    settings,
    requests: Sequence[str] = (),
) -> str:
    """The extractive draft for `question` (or the citizen's message in brouillon mode)."""
    picked = _select(question, contexts, list(requests), settings, reply=mode == "brouillon")
    if mode == "brouillon":
        return _compose_brouillon(question, picked, list(requests))
    return _compose_question(question, picked)


def _body(pk: Picked, *, brouillon: bool, asks_list: bool = False) -> list[str]:
    n = pk.ctx.source.n
    units = pk.units
    lines = []
    # a reply to a citizen names no section, unless its sentences come from two different
    # alternatives of the fiche: "Enlèvement : 121,27 €" (Cas général) and "Enlèvement :
    # 150 €" (Paris), two ceilings of a director's pay (one per scheme), side by side, read as
    # contradicting each other; a sentence of one case beside general ones does not
    alternatives = brouillon and len({_case_path(u, pk.ctx.cases) for u in units} - {()}) > 1
    if units[0].section and (
        not brouillon or units[0].leans or alternatives or _bare_label(units[0])
    ):
        # the case the direct answer belongs to (what a list with no lead-in lists)
        lines.append(f"_{units[0].section}_")
    lines.append(_line(units[0], n))
    if (
        not brouillon
        and units[0].is_list
        and asks_list
        and (others := _other_cases(units[0], pk.ctx))
    ):
        # the list asked for, given for one case: the agent sees which others the fiche
        # lists, the question that decides which list applies; what the draft quotes of
        # those other cases is left out (the minor's pièces after an adult's, named as
        # another case just above)
        lines.append(f"{OTHER_CASES} {' ; '.join(others)}. [{n}]")
        head = _chapter(units[0].section.split(" › "), pk.ctx)
        units = [units[0], *(u for u in units[1:] if not _in_cases(u, head, others))]
    rest = units[1:]
    # units from several sections are labelled with their section's title; "Selon le cas :"
    # heads them only when those sections are cases (a reply to a citizen otherwise names no
    # case: its closing line says the rules depend on the situation)
    labelled = len({u.section for u in units}) > 1 and (not brouillon or alternatives)
    if labelled:
        return [*lines, *_labelled(units, n, cases=_cases(units, pk.ctx.cases))]
    if rest:
        lines.append("")
    for u in rest:
        # a reply names the case of a sentence leaning on it ("Cette aide…": which aide)
        case = u.section.split(" › ")[-1] if brouillon and u.section and u.leans else ""
        lines += _bullet(_line(u, n), _label([case]) if case else _bare_label(u))
    return lines


OTHER_CASES = "Autres cas de la fiche :"
MAX_OTHER_CASES = 4


def _other_cases(u: Unit, ctx: SourceContext) -> list[str]:
    """The cases beside a list's own, for the same chapter ("Pièces à fournir": "L'enfant a
    une carte d'identité valide", "L'enfant n'a pas de carte d'identité" beside "L'enfant a
    une carte d'identité périmée › Date d'expiration : + de 5 ans"), in reading order: each
    named down to where it parts from the list's own ("L'enfant a une carte d'identité
    périmée › Date d'expiration : moins de 5 ans", not its subcases); none when the list's
    section is no case of a chapter (its last title before the cases)."""
    path = u.section.split(" › ") if u.section else []
    head = _chapter(path, ctx)
    if not head or len(head) == len(path):
        return []
    own = path[len(head) :]
    others: list[str] = []
    for section in dict.fromkeys(x.section for x in fiche_units(ctx)):
        p = section.split(" › ") if section else []
        if len(p) <= len(head) or p[: len(head)] != head or p[len(head)] not in ctx.cases:
            continue
        below = p[len(head) :]
        common = _shared_depth(below, own)
        if common == len(below) or not all(t in ctx.cases for t in below[: common + 1]):
            continue  # the list's own case, or one above it
        named = " › ".join(below[: common + 1])
        if named not in others:
            others.append(named)
    if len(others) > MAX_OTHER_CASES:
        return [*others[:MAX_OTHER_CASES], f"et {len(others) - MAX_OTHER_CASES} autres"]
    return others


def _chapter(path: list[str], ctx: SourceContext) -> list[str]:
    """A section path down to its last title that is no case of the fiche (its chapter)."""
    last = max((i for i, t in enumerate(path) if t not in ctx.cases), default=-1)
    return path[: last + 1]


def _in_cases(u: Unit, head: list[str], named: list[str]) -> bool:
    """The unit belongs to one of the cases `_other_cases` named under the chapter `head`."""
    path = u.section.split(" › ") if u.section else []
    return any(
        path[: len(head) + len(steps)] == [*head, *steps]
        for steps in (case.split(" › ") for case in named)
    )


def _case_path(u: Unit, case_titles: frozenset[str]) -> tuple[str, ...]:
    """The alternatives of the fiche a unit belongs to (the case titles of its section path:
    "Voiture particulière", "Paris")."""
    return tuple(t for t in u.section.split(" › ") if t in case_titles)


def _sub_label(section: str, lead_path: list[str]) -> str:
    """The label of a unit from the lead's own section but another of its subsections: the
    first title where their paths part ("0,124 € par kilomètre" under "Vélomoteurs,
    scooters, motos" beside the lead's "Véhicules automobiles"); none when it is the lead's
    section or one above it."""
    path = section.split(" › ") if section else []
    return _label(path[_shared_depth(path, lead_path) :])


def _shared_depth(a: list[str], b: list[str]) -> int:
    """How many titles two section paths share from their start."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _label(titles: list[str]) -> str:
    """A bullet's label from the titles of its section path below what the reader already
    knows: the first, and the last when deeper ("*Conditions de ressources › 2* : 30 884
    €": which plafond), none when there are none."""
    if not titles:
        return ""
    shown = titles if len(titles) <= 2 else [titles[0], titles[-1]]
    return f"*{' › '.join(shown)}* : "


def _labelled(units: list[Unit], n: int, *, cases: bool) -> list[str]:
    """The units after the lead when they come from several sections: first those of the
    lead's own section (its heading is above it) and of none, labelled only by the
    subsection where they part from the lead's; then each other section's under its title,
    once ("- *Titularisé avant 2013* : …"), its sentences side by side, and the case it is
    for when deeper ("- *Exonérations liées au bénéficiaire › Frère ou sœur* : …": whom the
    conditions are for)."""
    lead_path = units[0].section.split(" › ") if units[0].section else []
    lead = lead_path[0] if lead_path else ""
    own: list[tuple[str, Unit]] = []
    others: dict[str, list[Unit]] = {}
    for u in units[1:]:
        top = u.section.split(" › ")[0]
        if not top or top == lead:
            own.append((_sub_label(u.section, lead_path), u))
        else:
            others.setdefault(top, []).append(u)
    lines = [""] if own or others else []
    for label, group in _runs(own):
        lines += _group(group, n, label)
    if others:
        if own:
            lines.append("")
        if cases:
            lines.append(EXTRACTIVE_CASES)
    for group in others.values():
        # each other section under its title and case, its subsections apart ("› 1", "› 2")
        titled = [(_label(u.section.split(" › ")), u) for u in group]
        for label, run in _runs(titled):
            lines += _group(run, n, label)
    return lines


def _runs(labelled: list[tuple[str, Unit]]) -> list[tuple[str, list[Unit]]]:
    """Consecutive units under the same label, together."""
    runs: list[tuple[str, list[Unit]]] = []
    for label, u in labelled:
        if runs and label and runs[-1][0] == label:
            runs[-1][1].append(u)
        else:
            runs.append((label, [u]))
    return runs


def _group(group: list[Unit], n: int, label: str) -> list[str]:
    """Units under one label: consecutive sentences side by side in one bullet, a list in
    its own; bare units (no label) one bullet each. Two bullets or more are nested under
    the label, said once (not "- *Après un délai de 6 mois* : …" twice in a row)."""
    if not label:
        return [line for u in group for line in _bullet(_line(u, n), _bare_label(u))]
    texts: list[str] = []
    said: list[str] = []
    for u in group:
        if not u.is_list:
            said.append(u.text)
            continue
        if said:
            texts.append(f"{' '.join(said)} [{n}]")
            said = []
        texts.append(_line(u, n))
    if said:
        texts.append(f"{' '.join(said)} [{n}]")
    if len(texts) == 1:
        return _bullet(texts[0], label)
    return [f"- {label.rstrip()}", *(f"  {line}" for text in texts for line in _bullet(text))]


def _bare_label(u: Unit) -> str:
    """The label of a list that has no lead-in ("- Caisse d'allocations familiales (Caf)",
    "- Mutualité sociale agricole (MSA)" under "Où s'adresser ?"): its section's title,
    without which its items read as loose statements; none for anything else."""
    if not (u.is_list and u.section and u.text.startswith("- ")):
        return ""
    return _label([u.section.split(" › ")[-1]])


def _bullet(text: str, label: str = "") -> list[str]:
    """A unit as one bullet of a list: a list's items nested under its lead-in."""
    head, *items = text.splitlines()
    if head.startswith("- "):  # a list with no lead-in: its items are the bullets…
        if label:  # … nested under the label, which would read as the first item's only
            return [f"- {label.rstrip()}", *(f"  {item}" for item in [head, *items])]
        return [head, *items]
    if label and fold(head.rstrip(" :")) == fold(label.strip(" *:").split(" › ")[-1]):
        # a lead-in that only repeats its section's title ("Identité et famille :")
        return [f"- {label.rstrip()}", *(f"  {item}" for item in items)]
    return [f"- {label}{head}", *(f"  {item}" for item in items)]


def _without_figures(text: str) -> str:
    """The citizen's words without their amounts and dates (never restated as facts)."""
    for f in sorted(find_figures(text), key=lambda f: -f.start):
        text = text[: f.start] + "…" + text[f.end :]
    return text


def _covered(request: str, picked: list[Picked]) -> bool:
    """Some picked text speaks of the request (a share of its content words), or gives the
    kind of answer it asks for when its words say nothing ("il doit aller où ?")."""
    stems = stem_set(request)
    if not stems:
        return True
    pr = profile(request)
    if len(stems) <= 2 and any(_answers(u, pr, lenient=True) for pk in picked for u in pk.units):
        return True
    seen: set[str] = set()
    for pk in picked:
        seen |= stem_set(pk.ctx.source.title)
        for u in pk.units:
            seen |= u.stems | u.section_stems
    return len(stems & seen) / len(stems) >= 0.2


def _compose_question(question: str, picked: list[Picked]) -> str:
    lines = [EXTRACTIVE_LABEL_QUESTION, ""]
    asked = profile(question)
    for i, pk in enumerate(picked):
        if i:
            lines += ["", f"Voir aussi « {pk.ctx.source.title} » :"]
        # the other cases of a list asked for are named for the first fiche only (a fiche
        # quoted beside it gives one list, its cases unnamed)
        lines += _body(pk, brouillon=False, asks_list=not i and (asked.listing or asked.needed))
    links = []
    seen_urls: set[str] = set()
    for pk in picked:
        n = pk.ctx.source.n
        for sv in _services(pk, question):
            if sv.get("url") not in seen_urls:
                seen_urls.add(sv.get("url"))
                links.append(f"- En ligne : {format_service(sv)} [{n}]")
    if links:
        lines += ["", *links]
    return "\n".join(lines).strip()


def _compose_brouillon(message: str, picked: list[Picked], requests: list[str]) -> str:
    lines = [EXTRACTIVE_LABEL_BROUILLON, "", BROUILLON_GREETING, "", BROUILLON_ACK, ""]
    situation = False
    for pk in picked:
        lines += _body(pk, brouillon=True)
        lines.append("")
        situation = situation or _cases(pk.units, pk.ctx.cases)
    left = [r for r in requests if len(requests) > 1 and not _covered(r, picked)]
    links = []
    seen_urls: set[str] = set()
    for pk in picked:
        s = pk.ctx.source
        links.append(f"- {s.title} : {s.url} [{s.n}]")
        for sv in _services(pk, message):
            if sv.get("url") not in seen_urls:
                seen_urls.add(sv.get("url"))
                links.append(f"- {format_service(sv)} [{s.n}]")
    if links:
        lines += [BROUILLON_LINKS, *links, ""]
    if situation:
        lines += [BROUILLON_SITUATION, ""]
    for r in left:
        quoted = _without_figures(" ".join(r.split()))
        lines += [BROUILLON_LEFT_TO_AGENT.format(request=quoted), ""]
    lines.append(BROUILLON_CLOSING)
    return "\n".join(lines).strip()

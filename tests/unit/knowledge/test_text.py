import math

import pytest

from knowledge.lexical import FrenchAnalyzer
from knowledge.text import (
    FRENCH_STOP_WORDS,
    QUESTION_WORDS,
    abroad_words,
    children_told,
    fold,
    keep_sense,
    measure_ranges,
    measures_told,
    sector,
    span_fit,
    stated_spans,
)


def test_fold_lowercases_and_drops_accents_the_way_agents_type():
    assert fold("Congé Maternité") == "conge maternite"
    assert fold("Sœur d’un élève") == "soeur d'un eleve"
    assert fold("Ångström") == "angstrom"  # outside the fast table: NFKD


def test_the_index_and_the_answer_side_share_one_folding():
    analyze = FrenchAnalyzer()
    assert analyze("congé maternité de ma sœur") == analyze("conge maternite de ma soeur")


def test_stop_words_are_folded_and_question_words_are_not_topic_words():
    assert all(w == fold(w) for w in FRENCH_STOP_WORDS | QUESTION_WORDS)
    assert {"le", "de", "vous"} <= FRENCH_STOP_WORDS
    assert {"bonjour", "combien", "pourquoi"} <= QUESTION_WORDS
    assert not {"passeport", "conge", "loyer"} & (FRENCH_STOP_WORDS | QUESTION_WORDS)


@pytest.mark.parametrize(
    ("question", "title", "fits"),
    [
        ("un apprenti de 17 ans peut travailler la nuit ?", "À partir de 16 ans", True),
        ("un apprenti de 17 ans peut travailler la nuit ?", "Avant 16 ans", False),
        ("RSA pour un jeune de 23 ans ?", "RSA demandeur de 25 ans et plus", False),
        ("elle a 20 ans, elle a moins de 25 ans", "RSA demandeur de 25 ans et plus", False),
        ("un bébé de 8 mois", "Entre 6 et 12 mois", True),
        # weeks are counted in months
        ("son père est décédé il y a 6 semaines", "Décédé depuis moins de 3 mois", True),
        ("son père est décédé il y a 16 semaines", "Décédé depuis moins de 3 mois", False),
        ("carte périmée depuis 6 ans", "Carte périmée depuis + de 5 ans", True),
        ("RSA et prime d'activité ?", "RSA demandeur de 25 ans et plus", None),
        ("un jeune de 23 ans", "RSA jeune actif", None),
        # "-26 ans" is typed for "moins de 26 ans": a bound, no age
        ("aide embauche jeune -26 ans", "Aide à l'embauche d'un jeune de moins de 26 ans", None),
    ],
)
def test_the_age_or_duration_a_question_states_is_matched_to_ranges(question, title, fits):
    assert span_fit(title, stated_spans(question)) is fits


@pytest.mark.parametrize(
    ("question", "title", "fits"),
    [
        ("bail signé en 2018", "Contrat de location signé après le 9 mars 2015", True),
        ("bail signé en 2018", "Contrat de location signé avant le 9 mars 2015", False),
        # a bound with its day holds its own year; a bare one does not
        ("bail signé en 2015", "Contrat de location signé avant le 9 mars 2015", True),
        ("titularisé en 2013", "Titularisé avant 2013", False),
        ("titularisé en 2016", "Titularisé à partir de 2015", True),
        ("né en 1999", "Vous êtes né(e) entre 1998 et 2000", True),
        ("gazole acheté en 2018", "En 2020 ou après", False),
        # a table's first cell names a year or a period the way tables do
        ("né en 1958", "1973 ou après", False),
        ("né en 1975", "1973 ou après", True),
        ("né en 1948", "1950 ou avant", True),
        ("né en 1958", "1958 - 1959 -1960", True),
        ("né en 1954", "1953 - 1954", True),
        ("travaux faits en 2017", "Entre mars et juin 2017", True),
        ("recettes 2019", "Jusqu'au 31 décembre 2020", True),
        # a law's or a decree's date names a text, not a period; euros are no year
        ("logement loué depuis 2010", "Logement régi par la loi de 1948", None),
        ("il lui doit 2000 euros", "Dette née avant 2019", None),
        ("il lui doit 2 000 €, facture de 2018", "Dette née avant 2019", True),
        # a year meets only a period, an age only a range of ages
        ("un jeune de 23 ans", "Titularisé avant 2013", None),
        ("titularisé en 2016", "RSA demandeur de 25 ans et plus", None),
    ],
)
def test_the_year_a_question_states_is_matched_to_periods(question, title, fits):
    assert span_fit(title, stated_spans(question)) is fits


@pytest.mark.parametrize(
    ("question", "title", "fits"),
    [
        ("le voleur a retiré 200 € avec ma carte", "Jusqu'à 50 € dépensés", False),
        ("le voleur a retiré 200 € avec ma carte", "Plus de 50 € dépensés", True),
        ("il lui doit 1 500 euros", "Créance inférieure à 10 000 €", True),
        ("il lui doit 15 000 €", "Créance inférieure à 10 000 €", False),
        ("revenus de 35 000 €", "Revenus compris entre 30 852 € et 41 136 €", True),
        ("revenus de 35 000 €", "Revenus inférieurs à 30 852 €", False),
        ("20 000€ de recettes", "Revenus locatifs ne dépassant pas 170 000 €", True),
        ("500,50 € sur le compte", "Sommes inférieures ou égales à 564,78 €", True),
        ("un don de 20000 €", "Don supérieur à 15 000 €", True),
        # a bound is no sum told; a sum meets only a range of sums
        ("il gagne plus de 2 000 €", "Plus de 50 € dépensés", None),
        ("une amende de 200 €", "Moins de 26 ans", None),
        ("un jeune de 23 ans", "Jusqu'à 50 € dépensés", None),
    ],
)
def test_the_sum_a_question_states_is_matched_to_ranges_of_sums(question, title, fits):
    assert span_fit(title, stated_spans(question)) is fits


def _ordered(titles: list[str], question: str, scores: list[float] | None = None) -> list[int]:
    """`person_fit_first` over fiches F0, F1… in this order, titled `titles` (`scores`: the
    second stage's)."""
    from types import SimpleNamespace

    from knowledge.ranking import person_fit_first

    ids = [f"F{i}" for i in range(len(titles))]
    index = SimpleNamespace(position={f: i for i, f in enumerate(ids)}, titles=titles)
    return person_fit_first(list(range(len(titles))), ids, index, question, scores)


def test_a_guide_through_a_life_event_leaves_the_first_places_to_the_fiches_that_answer():
    from knowledge.ranking import GUIDE_WINDOW, guides_down

    ids = ["F17556", "F1638", "F13765", "F1", "F2", "F3", "F4"]
    types = {"F17556": "Fiche Comment faire si", "F2": "Fiche Comment faire si - simulateur"}
    order = list(range(len(ids)))
    # "J'ai été radié de Pôle emploi… comment contester ?": not "Je recherche un emploi" first
    moved = guides_down(order, ids, types, wants_overview=False)
    assert moved[:GUIDE_WINDOW] == [1, 2, 3, 5, 6]
    assert moved[GUIDE_WINDOW:] == [0, 4]
    # an overview asked for ("tout savoir sur…"), or no guide near the top: the order stays
    assert guides_down(order, ids, types, wants_overview=True) == order
    assert guides_down(order, ids, {"F4": "Fiche Comment faire si"}, wants_overview=False) == [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_a_first_fiche_titled_for_another_age_gives_way_to_the_next_that_fits():
    titles = ["RSA demandeur de 25 ans et plus", "RSA jeune actif", "Prime d'activité"]
    assert _ordered(titles, "RSA pour un jeune de 23 ans ?") == [1, 0, 2]
    # the age fits, no age stated, or only a bound: the order stays
    assert _ordered(titles, "RSA pour une dame de 40 ans") == [0, 1, 2]
    assert _ordered(titles, "RSA : conditions ?") == [0, 1, 2]
    assert _ordered(titles, "RSA avant 25 ans ?") == [0, 1, 2]
    # nothing fitting near the top (the next two fiches): the second stage's order stays
    far = [
        "RSA demandeur de 25 ans et plus",
        "Retraite à 62 ans et plus",
        "Senior de 60 ans et plus",
        "RSA",
    ]
    assert _ordered(far, "RSA pour un jeune de 23 ans") == [0, 1, 2, 3]


def test_a_first_fiche_for_the_other_side_of_18_gives_way():
    titles = ["Passeport d'un majeur", "Passeport d'un mineur", "Carte d'identité"]
    assert _ordered(titles, "passeport mineur pièces ?") == [1, 0, 2]
    assert _ordered(titles, "passeport majeur pièces ?") == [0, 1, 2]
    assert _ordered(titles, "passeport pièces ?") == [0, 1, 2]
    # the sides are read from the words "mineur" and "majeur" only
    assert _ordered(titles, "passeport d'un enfant") == [0, 1, 2]


def test_a_first_fiche_for_the_other_sector_of_employment_gives_way():
    titles = [
        "Don de jours de repos à un salarié parent d'enfant gravement malade",
        "Don de jours de repos à un agent public aidant familial ou avec un enfant malade",
        "Congé de présence parentale",
    ]
    question = "agente de la mairie veut donner des jours a une collegue, combien ?"
    assert _ordered(titles, question) == [1, 0, 2]
    assert _ordered(titles, "un salarié peut donner combien de jours ?") == [0, 1, 2]
    assert _ordered(titles, "don de jours de repos : combien ?") == [0, 1, 2]


def test_a_question_that_tells_no_sector_is_read_as_the_private_sectors():
    # service-public.fr writes for the private sector's employee by default; the public
    # sector's fiche is the variant, titled so
    titles = [
        "Congé de proche aidant dans la fonction publique",
        "Congé de proche aidant",
        "Allocation journalière du proche aidant",
    ]
    assert _ordered(titles, "congé proche aidant : indemnisé ?") == [1, 0, 2]
    # the public sector told, or a public employer named without a status: the order stays
    assert _ordered(titles, "fonctionnaire en congé proche aidant : indemnisé ?") == [0, 1, 2]
    assert _ordered(titles, "aide-soignante à l'hôpital, congé proche aidant ?") == [0, 1, 2]
    # no fiche but the public sector's near the top: the order stays
    public = [
        "Congé de proche aidant dans la fonction publique",
        "Fonction publique : congé de solidarité familiale",
        "Disponibilité d'un fonctionnaire pour convenances personnelles",
        "Congé de proche aidant",
    ]
    assert _ordered(public, "congé proche aidant : indemnisé ?") == [0, 1, 2, 3]
    # the second stage far surer of the public sector's fiche: the matter is its own
    assert _ordered(titles, "congé proche aidant : indemnisé ?", [9.0, 6.4, 2.0]) == [0, 1, 2]
    assert _ordered(titles, "congé proche aidant : indemnisé ?", [9.0, 7.0, 2.0]) == [1, 0, 2]


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("agente de la mairie veut donner des jours", "public"),
        ("contractuel en mairie en cdd depuis 18 mois", "public"),
        ("un ministère veut prendre un contractuel pour un surcroit de travail", "public"),
        ("fonctionnaire territoriale inapte", "public"),
        ("je suis contractuelle à l'hôpital depuis 3 ans", "public"),
        ("policier municipal, il peut partir plus tot a la retraite ?", "public"),
        ("Un contractuel peut-il avoir un CDI ?", "public"),
        ("Qu'est-ce qu'un vacataire ?", "public"),
        ("une clause contractuelle du bail", None),
        ("Arrêt maladie d'un agent contractuel de la fonction publique", "public"),
        ("son patron veut lui changer ses horaires", "privé"),
        ("Don de jours de repos à un salarié", "privé"),
        # self-employed, both sectors, or neither told
        ("Déclaration des professions non salariées", None),
        ("ancien salarié devenu fonctionnaire", None),
        ("la mairie refuse de délivrer l'acte", None),
        ("mon père est à l'hôpital depuis dix jours", None),
        ("inscription pour les élections municipales", None),
    ],
)
def test_the_sector_of_employment_is_read_from_the_status_or_the_employer(text, told):
    assert sector(text) == told


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("usager qui part s'installer au canada avec sa famille", "étranger hors Europe"),
        ("on part vivre en Thaïlande l'été prochain", "étranger hors Europe"),
        ("elle rentre de Côte d'Ivoire", "étranger hors Europe"),
        ("carte de résident délivrée par l'espagne", "étranger Union européenne"),
        ("il travaille en Suisse", "étranger Union européenne"),
        ("mon père vit au Royaume-Uni", "étranger"),
        ("déménagement de Lyon à Paris", None),
        ("Maurice, mon voisin, dit que", None),  # a first name, not the island
        ("une dinde pour Noël", None),  # "Inde" only as a word
    ],
)
def test_another_country_is_named_the_way_the_fiches_write_of_it(text, words):
    assert abroad_words(text) == words


@pytest.mark.parametrize(
    ("question", "told"),
    [
        ("complément familial : ils ont 3 enfants dont un de 2 ans", (3.0,)),
        ("maman seule avec un enfant à charge", (1.0,)),
        ("monsieur 2 enfants veut tout laisser a sa compagne", (2.0,)),  # no verb typed
        ("en congé parental pour son 2eme enfant", (2.0,)),
        ("mon père a quatre enfants", (4.0,)),
        # no count of the family: a child's age, a child named, children born at once
        ("inscrire un enfant de 2 ans en maternelle", ()),
        ("crèche pour un enfant de 2 ans", ()),
        ("aide pour les enfants de moins de 3 ans", ()),
        ("prime pour la naissance de 2 enfants", ()),
    ],
)
def test_the_number_of_children_a_family_has_is_read_as_told(question, told):
    assert tuple(n for n, _ in children_told(question)) == told


@pytest.mark.parametrize(
    ("title", "children", "fits"),
    [
        ("Famille nombreuse (3 enfants ou plus) › 3 enfants", 2, False),
        ("Famille nombreuse (3 enfants ou plus) › 3 enfants", 3, True),
        ("Pour un couple › 1 enfant", 2, False),
        ("À partir de 2 enfants", 2, True),
        ("Vous êtes parent d'au moins 3 enfants", 4, True),
        ("Si la famille compte encore 1 ou 2 enfant(s) mineur(s)", 3, False),
        ("2 enfants à charge", 2, True),
        # a count of children born at once, an age range: not the family's size
        ("Naissance de 2 enfants (ou plus)", 3, None),
        ("Enfant de moins de 25 ans", 2, None),
    ],
)
def test_a_case_stating_a_number_of_children_fits_the_family_told(title, children, fits):
    assert span_fit(title, ((float(children), "enfants"),)) is fits
    # an age told is no number of children, and the other way round
    assert span_fit("Pour un couple › 1 enfant", ((1.0, "ans"),)) is None


@pytest.mark.parametrize(
    ("text", "read"),
    [
        # "garder" meaning to keep is searched as the fiches say it
        (
            "si je la fais, est-ce que je garde mes allocations ?",
            "si je la fais, est-ce que je conserver mes allocations ?",
        ),
        ("il peut garder son RSA ?", "il peut conserver son RSA ?"),
        ("elle garde l'ASF ou pas", "elle conserver l'ASF ou pas"),
        ("son ex a gardé le livret de famille", "son ex a conserver le livret de famille"),
        ("factures à garder combien de temps ?", "factures à conserver combien de temps ?"),
        # the noun, and minding a child or an animal, stay
        ("garde alternée : qui touche les allocations ?", None),
        ("elle a la garde des enfants", None),
        ("faire garder mes enfants le mercredi", None),
        ("je garde mon petit-fils le mercredi", None),
        ("qui garde les enfants pendant les vacances ?", None),
        ("fils sorti de garde à vue", None),
    ],
)
def test_garder_meaning_to_keep_is_read_as_conserver(text, read):
    assert keep_sense(text) == (read if read is not None else text)


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("un bateau à moteur de 8 m d'occasion", ((8.0, "m"),)),
        ("abri de jardin de 12m2", ((12.0, "m²"),)),
        ("un mur de 2m20", ((2.2, "m"),)),
        ("il fait 8 000 km par an", ((8000.0, "km"),)),
        ("dans 3 mois", ()),
    ],
)
def test_the_measures_a_question_states(text, told):
    assert measures_told(text) == told


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("De 8 m à moins de 9 m", ((8.0, 8.99, "m"),)),
        ("Supérieure à 50 m² et jusqu'à 150 m²", ((50.01, 150.0, "m²"),)),
        ("Jusqu'à 5 000 km", ((0.0, 5000.0, "km"),)),
        ("Plus de 150 m²", ((150.01, math.inf, "m²"),)),
        ("De 70 m et plus", ((70.0, math.inf, "m"),)),
        ("14 m²", ((14.0, 14.0, "m²"),)),
    ],
)
def test_the_ranges_of_measures_a_row_states(text, ranges):
    assert measure_ranges(text) == ranges

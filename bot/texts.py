"""Every French text the bot sends: notices, command replies, the help, the answers' labels.

One module so that wording is reviewed, translated or changed in one place. Texts with
`{placeholders}` are formatted by their caller (named arguments).
"""

from __future__ import annotations

# ---- notices (bot.service) --------------------------------------------------------------------

NOTICES = {
    "non_text": "Je ne lis que les messages texte ({detail} reçu). Écrivez votre question, ou "
    "collez le texte du message de l'usager (`{marker} …`). `{prefix}aide` pour l'aide.",
    "too_old": "Ce message est arrivé pendant que j'étais indisponible, il y a trop longtemps "
    "pour que j'y réponde maintenant. Reposez votre question si elle est toujours d'actualité.",
    "empty": "Votre message est vide. Écrivez votre question, ou `{prefix}aide` pour l'aide.",
    "undecryptable": "Je n'ai pas pu déchiffrer votre message (clés de chiffrement manquantes). "
    "Je réessaierai dès que les clés arriveront. Si je ne réponds pas, renvoyez votre "
    "message, ou fermez puis rouvrez la conversation avec moi.",
    "rate_limited": "Vous m'avez posé beaucoup de questions en peu de temps : attendez environ "
    "{wait} s avant la suivante, merci !",
    "error": "Désolé, je n'ai pas pu préparer de réponse cette fois-ci. Réessayez dans quelques "
    "instants ; si le problème persiste, prévenez l'administrateur de Guichet.",
    "answer_error": "{text}\n\nRéessayez dans quelques instants, reformulez la question, ou "
    "consultez directement service-public.fr. Si le problème persiste, prévenez "
    "l'administrateur de Guichet.",
}

# ---- answers (bot.render) ---------------------------------------------------------------------

DRAFT_REMINDER = {
    "question": "⚠️ Brouillon à vérifier : réponse préparée à partir des fiches "
    "service-public.fr citées, à contrôler avant de la transmettre.",
    "brouillon": "⚠️ Brouillon à vérifier : proposition de réponse au citoyen, à relire et "
    "adapter avant envoi.",
}
SOURCES_HEADING = "**Sources :**"
TO_CHECK = "À vérifier : {figures}"
FICHE_DATE = "fiche du {date}"
PART_OF = "({i}/{total})"

# ---- commands (bot.commands) ------------------------------------------------------------------

HELP_INTRO = [
    "**Guichet** prépare des réponses à partir des fiches service-public.fr, avec les "
    "liens des fiches utilisées.",
    "",
    "- En message direct, écrivez simplement votre question.",
    "- Dans un salon d'équipe, mentionnez-moi ou répondez à l'une de mes réponses : "
    "je réponds dans un fil, et le fil garde le contexte.",
]
HELP_BROUILLON = (
    "- Commencez un message par `{marker}` puis collez le message d'un usager : je rédige un "
    "brouillon de réponse."
)
HELP_FEEDBACK = "- Réagissez 👍 ou 👎 à une réponse pour nous aider à l'améliorer."
HELP_COMMANDS = "**Commandes :**"
HELP_ADMIN_TAG = " — *admin*"
UNKNOWN_COMMAND = "Commande inconnue : `{prefix}{name}`.\n\n"
ADMIN_ONLY = "La commande `{prefix}{name}` est réservée aux administrateurs."
RESET_DONE = "C'est noté : j'ai oublié cette conversation. Posez votre nouvelle question."
NO_SOURCES = "Aucune source à afficher : pas encore de réponse dans cette conversation."
LAST_SOURCES = "**Sources de la dernière réponse :**\n\n"
BROUILLON_USAGE = (
    "Collez le message de l'usager après la commande : `{prefix}brouillon Bonjour, "
    "je voudrais savoir…`"
)
MODE_CURRENT = (
    "Mode actuel : **{mode}**. Changez-le avec `{prefix}mode question` ou `{prefix}mode brouillon`."
)
MODE_UNKNOWN = "Mode inconnu : `{mode}`. Modes : `question`, `brouillon`."
MODE_SET = {
    "brouillon": "Mode **brouillon** : collez le message d'un usager, je rédige la réponse.",
    "question": "Mode **question** : posez vos questions, je réponds avec les fiches.",
}
STATS_HEADING = "**Statistiques :**"

# Command help lines (name → help), shown by !aide.
COMMAND_HELP = {
    "aide": "affiche cette aide",
    "reset": "oublie la conversation en cours",
    "sources": "les sources de la dernière réponse, avec des extraits des fiches",
    "brouillon": "rédige un brouillon de réponse au message d'un usager",
    "mode": "affiche ou change le mode de la conversation (brouillon : chaque message est "
    "celui d'un usager)",
    "stats": "statistiques d'utilisation",
}
COMMAND_USAGE = {"brouillon": "<message de l'usager>", "mode": "[question|brouillon]"}

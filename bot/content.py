"""The content of every event the bot sends: where it goes (thread, reply) and whom it names.

One place for the relations: a reply names the event it answers (`org.guichet.reply_to`, so a
replayed sync after a crash marks that event processed); in a thread it is a thread reply with
the in-reply-to fallback (`is_falling_back`) to the asking message; an answer mentions the
asker in a thread (a notification) and nobody in a DM.
"""

from __future__ import annotations

from typing import Any

from bot.render import Rendered
from bot.routing import Target


def reply_content(
    rendered: Rendered,
    target: Target,
    *,
    msgtype: str = "m.text",
    asker: str | None = None,
    pending: bool = False,
) -> dict[str, Any]:
    """The content of a reply to `target`.

    `asker`: set for answers (m.mentions: the asker in a thread, nobody elsewhere); notices
    carry no m.mentions. `pending`: the event answered still waits for its real reply (the
    undecryptable notice), so this reply does not count as answering it.
    """
    content = rendered.content(msgtype)
    content["org.guichet.reply_to"] = target.event_id
    if pending:
        content["org.guichet.pending"] = True
    if target.thread_root:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": target.thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": target.event_id},
        }
    if asker is not None:
        content["m.mentions"] = {"user_ids": [asker]} if target.thread_root else {}
    return content

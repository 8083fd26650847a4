"""Typed input and output of the answer chain: the contract between `chains` and `bot`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Mode = Literal["question", "brouillon"]
Status = Literal["answered", "no_source", "error"]


class Turn(BaseModel):
    """One past exchange of a conversation, oldest first in `AnswerRequest.history`."""

    question: str
    answer: str


class AnswerRequest(BaseModel):
    question: str = Field(
        description="The agent's question, or the citizen's message in brouillon mode"
    )
    history: list[Turn] = Field(default_factory=list)
    mode: Mode = "question"
    audience: str | None = Field(
        default=None, description="Particuliers, Professionnels, Associations"
    )


class Source(BaseModel):
    n: int = Field(description="The citation number used in the text: [n]")
    fiche_id: str
    title: str
    url: str
    section: str = ""
    date: str | None = None
    excerpt: str = ""
    services: list[dict] = Field(default_factory=list)
    cited: bool = Field(
        default=True,
        description="False for a retrieved source the text does not cite (listed after cited ones)",
    )


class UsedChunk(BaseModel):
    id: str
    fiche_id: str
    section: str
    text: str
    score: float


class Answer(BaseModel):
    status: Status
    text: str
    sources: list[Source] = Field(default_factory=list)
    chunks: list[UsedChunk] = Field(default_factory=list)
    checks: dict[str, int] = Field(default_factory=dict)
    flagged: list[str] = Field(default_factory=list, description="Figures marked 'à vérifier'")
    standalone_question: str = ""
    mode: Mode = "question"
    generator: str = ""
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Per named step")
    error: str | None = Field(default=None, description="Error kind when status == 'error'")
    tokens: dict[str, int] = Field(
        default_factory=dict,
        description="LLM token usage of this answer: input_tokens, output_tokens (when reported)",
    )
    suggestions: list[Source] = Field(
        default_factory=list,
        description="With status 'no_source': the closest fiches, offered as 'peut-être utile'",
    )

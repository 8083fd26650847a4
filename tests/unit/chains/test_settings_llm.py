from __future__ import annotations

import pytest
from pydantic import ValidationError

from chains.llm import build_chat_model, classify_llm_error, overall_deadline
from chains.settings import ChainSettings


def test_every_field_is_described():
    for name, field in ChainSettings.model_fields.items():
        assert field.description, f"ChainSettings.{name} has no description"


def test_env_prefix_and_secret(monkeypatch):
    monkeypatch.setenv("GUICHET_LLM_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("GUICHET_LLM_API_KEY", "sk-secret-value")
    monkeypatch.setenv("GUICHET_RETRIEVAL_K", "7")
    s = ChainSettings(_env_file=None)
    assert s.uses_llm
    assert s.retrieval_k == 7
    assert "sk-secret-value" not in repr(s)
    assert s.llm_api_key.get_secret_value() == "sk-secret-value"


def test_retries_are_bounded():
    with pytest.raises(ValidationError, match="llm_max_retries"):
        ChainSettings(_env_file=None, llm_max_retries=50)


def test_no_url_means_extractive(settings):
    assert not settings.uses_llm
    assert build_chat_model(settings) is None


def test_chat_model_is_configured_from_settings():
    s = ChainSettings(
        _env_file=None,
        llm_url="http://127.0.0.1:8000/v1/",
        llm_api_key="sk-abc",
        llm_model="mistral-small",
        llm_timeout=12.5,
        llm_max_retries=1,
        llm_max_tokens=300,
        llm_temperature=0.0,
    )
    llm = build_chat_model(s)
    assert llm.model_name == "mistral-small"
    assert llm.openai_api_base == "http://127.0.0.1:8000/v1"
    assert llm.request_timeout == 12.5
    assert llm.max_retries == 1
    assert llm.max_tokens == 300
    assert llm.openai_api_key.get_secret_value() == "sk-abc"
    assert "sk-abc" not in repr(llm)


def test_deadline_covers_every_attempt():
    s = ChainSettings(_env_file=None, llm_timeout=10, llm_max_retries=2)
    assert overall_deadline(s) >= 30


def test_error_classification():
    import httpx
    import openai

    req = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def status(code):
        return httpx.Response(code, request=req, json={"error": {"message": "x"}})

    assert classify_llm_error(TimeoutError()).kind == "timeout"
    assert classify_llm_error(openai.APITimeoutError(request=req)).kind == "timeout"
    assert classify_llm_error(openai.APIConnectionError(request=req)).kind == "connection"
    rl = openai.RateLimitError("slow down", response=status(429), body=None)
    assert classify_llm_error(rl).kind == "rate_limited"
    err = openai.InternalServerError("boom", response=status(503), body=None)
    assert classify_llm_error(err).kind == "server_error"
    auth = openai.AuthenticationError("no", response=status(401), body=None)
    assert classify_llm_error(auth).kind == "auth"
    assert classify_llm_error(ValueError("bad json")).kind == "malformed_response"
    assert classify_llm_error(RuntimeError("?")).kind == "llm_error"

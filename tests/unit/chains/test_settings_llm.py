from __future__ import annotations

import pytest
from pydantic import ValidationError

from chains.llm import build_chat_model, classify_llm_error, overall_deadline, retry_delay
from chains.prompts import error_message
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
    assert llm.request_timeout.read == 12.5
    assert llm.request_timeout.connect == 10.0
    assert llm.max_retries == 0  # the openai client never retries (it would retry timeouts)
    assert llm.retries == 1  # ours: only calls that produced no answer
    assert llm.deadline_s == 12.5
    assert llm.max_tokens == 300
    assert llm.openai_api_key.get_secret_value() == "sk-abc"
    assert "sk-abc" not in repr(llm)


def test_defaults_suit_a_slow_server():
    s = ChainSettings(_env_file=None)
    assert s.llm_timeout == 120
    assert overall_deadline(s) == 120  # one deadline per answer, retries included
    assert s.llm_model == "openweight-medium"


def test_deadline_is_the_timeout_whatever_the_retries():
    s = ChainSettings(_env_file=None, llm_timeout=10, llm_max_retries=5)
    assert overall_deadline(s) == 10


def _req():
    import httpx

    return httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


def _status_error(code, headers=None):
    import httpx
    import openai

    resp = httpx.Response(code, request=_req(), json={"error": {"message": "x"}}, headers=headers)
    cls = {429: openai.RateLimitError}.get(
        code, openai.InternalServerError if code >= 500 else openai.BadRequestError
    )
    return cls("x", response=resp, body=None)


def _timeout_from(httpx_exc):
    import openai

    try:
        try:
            raise httpx_exc
        except Exception as err:
            raise openai.APITimeoutError(request=_req()) from err
    except openai.APITimeoutError as exc:
        return exc


def test_a_timed_out_generation_is_never_retried():
    import httpx

    assert retry_delay(_timeout_from(httpx.ReadTimeout("slow")), 0) is None
    assert retry_delay(TimeoutError(), 0) is None
    # a 504 is a proxy's timeout: the model was computing
    assert retry_delay(_status_error(504), 0) is None


def test_only_calls_without_an_answer_are_retried():
    import httpx
    import openai

    assert retry_delay(openai.APIConnectionError(request=_req()), 0) is not None
    # the connection never opened: the server never saw the request
    assert retry_delay(_timeout_from(httpx.ConnectTimeout("no route")), 0) is not None
    assert retry_delay(_status_error(429), 0) is not None
    assert retry_delay(_status_error(500), 0) is not None
    assert retry_delay(_status_error(503), 0) is not None
    assert retry_delay(_status_error(400), 0) is None
    assert retry_delay(ValueError("bad json"), 0) is None


def test_retry_after_is_honoured_and_backoff_grows():
    assert retry_delay(_status_error(429, {"retry-after-ms": "250"}), 0) == 0.25
    assert retry_delay(_status_error(503, {"retry-after": "3"}), 0) == 3.0
    assert retry_delay(_status_error(429, {"retry-after": "3600"}), 0) is None  # give up
    first = retry_delay(_status_error(500), 0)
    third = retry_delay(_status_error(500), 2)
    assert 0.3 <= first <= 0.5
    assert 1.5 <= third <= 2.0
    assert retry_delay(_status_error(500), 10) <= 8.0


def test_timeout_notice_names_the_deadline():
    assert "délai de 2 min dépassé" in error_message("timeout", deadline_s=120)
    assert "délai de 1,5 s dépassé" in error_message("timeout", deadline_s=1.5)
    assert "délai de 1 min 30 s dépassé" in error_message("timeout", deadline_s=90)
    assert "pas répondu à temps" in error_message("timeout")
    assert "délai" not in error_message("rate_limited", deadline_s=120)


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

"""Housekeeping prompts: every front end's template is recognised by its start, in bounded time, with safe patterns."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cat_openai_bridge.core.config import regex_probe, task_prompts
from cat_openai_bridge.core.config.settings import BridgeSettings
from testkit.front_end_prompts import TEMPLATES

ORDINARY = [
    "hello",
    "What is your task?",
    "Your task is to write me a poem about a cat",
    "Provide a concise summary of this article",
    "Analyze this conversation and tell me who was right",
    "Here is my plan:\n### Task: buy milk",  # a marker further down is the user's own text, not a template
]


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_front_end_template_is_recognised_by_default(name):
    assert BridgeSettings().is_task_prompt(TEMPLATES[name])


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_messages_are_not(text):
    assert not BridgeSettings().is_task_prompt(text)


def test_only_the_start_of_a_message_is_looked_at():
    assert BridgeSettings().is_task_prompt("\n\n  ### Task:\nGenerate a title")
    assert not BridgeSettings().is_task_prompt("\n" * 100_000 + "### Task:")  # was a 10 s scan, now one window
    anywhere = BridgeSettings(task_prompt_patterns=[r"[\s\S]*MARK"])  # a pattern that looks everywhere it may
    assert anywhere.is_task_prompt("x" * (task_prompts.WINDOW - 4) + "MARK")
    assert not anywhere.is_task_prompt("x" * task_prompts.WINDOW + "MARK")


def test_the_default_patterns_are_linear_on_every_probe():
    worst = regex_probe.worst_seconds(list(task_prompts.DEFAULT_PATTERNS), task_prompts.WINDOW)
    assert all(w is not None and w < regex_probe.PROBE_LIMIT / 10 for w in worst), worst


@pytest.mark.parametrize(
    "pattern,patience,says",
    [
        (r"^(\w+\s?)*### Task:", 0.3, "did not finish within 0.3 s"),  # exponential: nested quantifiers
        (r"^(a|a)*b", 0.3, "did not finish within 0.3 s"),  # exponential: an ambiguous alternation under a star
        (r"^\s*\s*\s*### Task:", 5.0, "ms of CPU (at most 50 ms allowed)"),  # cubic: ~0.25 s per probe
    ],
)
def test_patterns_that_backtrack_catastrophically_are_refused(monkeypatch, pattern, patience, says):
    monkeypatch.setattr(regex_probe, "PATTERN_SECONDS", patience)  # a Cat gives up on a hanging pattern after 1 s
    with pytest.raises(ValidationError) as info:
        BridgeSettings(task_prompt_patterns=[r"^Summarize", pattern])
    message = info.value.errors()[0]["msg"]
    assert message.startswith(f"{pattern} backtracks catastrophically: matching it against a 1000-character message")
    assert says in message and message.endswith("Anchor a literal prefix instead, e.g. ^\\s*### Task:")


def test_a_verdict_is_kept_so_reloading_settings_starts_no_worker(monkeypatch):
    BridgeSettings(task_prompt_patterns=[r"^Please title this chat"])

    def no_worker(*args, **kwargs):
        raise AssertionError("the worker was started again")

    monkeypatch.setattr(regex_probe, "worst_seconds", no_worker)
    assert BridgeSettings(task_prompt_patterns=[r"^Please title this chat"]).is_task_prompt("Please title this chat")


def test_a_pattern_that_cannot_be_checked_is_refused(monkeypatch):
    def no_processes(*args, **kwargs):
        raise OSError("no processes here")

    monkeypatch.setattr(regex_probe, "worst_seconds", no_processes)
    with pytest.raises(ValidationError) as info:
        BridgeSettings(task_prompt_patterns=[r"^Never checked before"])
    assert "could not be checked for catastrophic backtracking (no processes here)" in info.value.errors()[0]["msg"]
    assert BridgeSettings(task_prompt_patterns=list(task_prompts.DEFAULT_PATTERNS))  # the defaults need no worker


def test_invalid_patterns_are_refused_before_any_probe():
    with pytest.raises(ValidationError) as info:
        BridgeSettings(task_prompt_patterns=["(unclosed"])
    assert info.value.errors()[0]["msg"].startswith("(unclosed is not a valid regular expression")

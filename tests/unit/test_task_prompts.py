"""Housekeeping prompts: every front end's template is recognised by its start, in bounded time, whatever pattern."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from cat_openai_bridge.core.config import bounded_regex, task_prompts
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


def test_the_default_patterns_take_microseconds_on_any_message():
    patterns = list(task_prompts.DEFAULT_PATTERNS)
    for text in ("a" * 5000, " " * 5000, "### Task" * 500, "\n" * 5000):
        started = time.perf_counter()
        assert not task_prompts.matches(patterns, text)
        assert time.perf_counter() - started < task_prompts.SECONDS / 2


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"^Task:\s*(title|tag|[a-z]|\w)*:", "Task:" + "a" * 26),  # passed the old save-time probe: 6.2 s with `re`
        (r"^(\w+\s?)*### Task:", "a" * 40),  # exponential: nested quantifiers
        (r"^(a|a)*b", "a" * 40),  # exponential: an ambiguous alternation under a star
        (r"^\s*\s*\s*\s*\s*### Task:", " " * 1000),  # polynomial
    ],
)
def test_a_pattern_that_backtracks_is_saved_and_a_message_it_cannot_match_in_time_is_not_a_task_prompt(pattern, text):
    settings = BridgeSettings(task_prompt_patterns=[pattern, r"^Summarize"])
    started = time.perf_counter()
    assert not settings.is_task_prompt(text)
    assert time.perf_counter() - started < 1.0  # the bound is 10 ms; `re` took seconds to minutes
    assert settings.is_task_prompt("Summarize this chat")


def test_a_compiled_pattern_is_kept_so_reloading_settings_compiles_nothing(monkeypatch):
    BridgeSettings(task_prompt_patterns=[r"^Please title this chat"])

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(bounded_regex.regex, "compile", no_compile)
    assert BridgeSettings(task_prompt_patterns=[r"^Please title this chat"]).is_task_prompt("Please title this chat")


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("(unclosed", "(unclosed: the pattern is not a valid regular expression (missing ), unterminated subpattern"),
        ("^(?:(x|y){1000}){1000}", "the pattern is too large to compile: 4000 characters at most"),
    ],
)
def test_patterns_that_cannot_be_compiled_in_bounded_time_are_refused(pattern, says):
    with pytest.raises(ValidationError) as info:
        BridgeSettings(task_prompt_patterns=[pattern])
    assert says in info.value.errors()[0]["msg"]

"""The request patterns of chat front ends (Open WebUI, LibreChat), replayed on the wire."""

from __future__ import annotations

import base64
import json

from openai.types.chat import ChatCompletion, ChatCompletionChunk

PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f2d0a50000000049454e44ae426082"
    )
).decode()


def sse_payloads(text: str) -> list:
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def test_open_webui_style_session(http, llm_log):
    models = http.get("/custom/v1/models").json()
    model = models["data"][0]["id"]
    history = []
    for i in range(60):  # a long chat, resent whole on every turn
        history += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    question = {"type": "text", "text": "what is in this picture?"}
    picture = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}", "detail": "auto"}}
    body = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are helpful."},
            *history,
            {"role": "user", "content": [question, picture]},
        ],
        "temperature": 0.8,
        "top_p": 0.9,
        "seed": 42,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.1,
        "max_tokens": 500,
        "user": "webui-user",
        "metadata": {"chat_id": "c1", "message_id": "m1"},
        "features": {"web_search": False},
        "variables": {"{{USER_NAME}}": "me"},
        "session_id": "s1",
    }
    images = http.get("/custom/health").json()["adapter"] == "v2"  # Cat v1's pipeline takes text only
    if not images:
        refused = http.post("/custom/v1/chat/completions", json=body)
        assert refused.status_code == 400 and refused.json()["error"] == {
            "message": "Images are not supported on this Cat version: its pipeline takes text only "
            "(Cat v2 accepts images).",
            "type": "invalid_request_error",
            "param": "messages.[121].content.[1].type",
            "code": "unsupported_content",
        }
        body["messages"][-1]["content"] = [question]  # what a front end does next: text only
    response = http.post("/custom/v1/chat/completions", json=body)
    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    for c in chunks:
        ChatCompletionChunk.model_validate(c)  # every field as openai-python's types define it
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: what is in this picture?"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0
    if images:  # v2's agent sees the whole history; v1's own prompt keeps only its latest turns
        assert chunks[-1]["usage"]["prompt_tokens"] > 600
        sent = llm_log()[-1]["body"]["messages"]
        assert len(sent) == 1 + 120 + 1
        assert sent[-1]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}


def test_librechat_style_request_with_stop_and_unknown_fields(http):
    body = {
        "model": "cheshire-cat",
        "messages": [{"role": "user", "content": "[[reply:one two STOP three]]"}],
        "stop": ["STOP"],
        "stream": False,
        "top_k": 40,
        "resendFiles": True,
        "promptPrefix": None,
        "max_completion_tokens": 100,
        "parallel_tool_calls": True,
        "store": False,
        "modalities": ["text"],
    }
    answer = http.post("/custom/v1/chat/completions", json=body).json()
    ChatCompletion.model_validate(answer)
    assert answer["choices"][0]["message"]["content"] == "one two "
    assert answer["choices"][0]["finish_reason"] == "stop"

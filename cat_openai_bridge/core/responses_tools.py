"""Function calling in the Responses API's shapes, mapped onto the Chat Completions machinery.

Responses declares tools flat (`{"type": "function", "name", "parameters"}`),
returns calls as `function_call` output items and takes results back as
`function_call_output` input items; the Cat's turn sees the same client tools,
assistant `tool_calls` and `tool` messages as a chat completion.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from .errors import invalid_request
from .requests import ChatMessage
from .tools import ClientTool, ToolCall, client_tools


def function_tools(tools: Optional[List[Dict[str, Any]]], choice: Optional[Union[str, Dict[str, Any]]],
                   allowed: bool) -> List[ClientTool]:
    """The request's function tools, validated with Responses' own parameter names."""
    nested = []
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise invalid_request(f"Invalid value for 'tools.[{i}].type': only 'function' tools are supported, "
                                  f"got {kind!r}.", f"tools.[{i}].type", "unsupported_value")
        nested.append({"type": "function", "function": {k: tool[k] for k in ("name", "description", "parameters")
                                                        if k in tool}})
    if isinstance(choice, dict):
        raise invalid_request("Only tool_choice 'auto' and 'none' are supported: the Cat's agent decides when to "
                              "call a tool.", "tool_choice", "unsupported_value")
    if tools and not allowed:
        raise invalid_request(
            "Client-declared tools are not supported on this Cat version (its agent cannot hand tool calls back); "
            "send the request without 'tools'.", "tools", "unsupported_parameter")
    return client_tools(nested, choice)


def declared(tools: List[ClientTool]) -> List[dict]:
    """The tools as a response object echoes them."""
    return [{"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters,
             "strict": None} for t in tools]


def call_item(call: ToolCall, item_id: str, arguments: Optional[str] = None, status: str = "completed") -> dict:
    return {"type": "function_call", "id": item_id, "call_id": call.id, "name": call.name,
            "arguments": call.arguments if arguments is None else arguments, "status": status}


def _text(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in output):
        return "".join(p["text"] for p in output)
    raise invalid_request(f"Invalid type for '{where}.output': expected a string or text parts.", f"{where}.output",
                          "invalid_type")


def add_item(messages: List[ChatMessage], item: Dict[str, Any], where: str) -> None:
    """Append a `function_call` or `function_call_output` input item as chat messages."""
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(f"Missing required parameter: '{where}.call_id'.", f"{where}.call_id",
                              "missing_required_parameter")
    if item["type"] == "function_call_output":
        messages.append(ChatMessage(role="tool", tool_call_id=call_id, content=_text(item.get("output"), where)))
        return
    name, arguments = item.get("name"), item.get("arguments", "{}")
    if not isinstance(name, str) or not isinstance(arguments, str):
        raise invalid_request(f"Invalid '{where}': 'name' and 'arguments' must be strings.", where, "invalid_type")
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant":  # the text before the calls, or parallel calls
        last.tool_calls = [*(last.tool_calls or []), call]
    else:
        messages.append(ChatMessage(role="assistant", content=None, tool_calls=[call]))

"""Client-declared tools (function calling): what the client offers, what the Cat's model calls.

The Cat's agent gets the client's functions next to its own tools for one
request; when its model calls one of them, the turn stops and the calls go
back to the client, which runs them and sends `role: "tool"` results in the
next request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from .errors import invalid_request

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ClientTool:
    name: str
    description: str
    parameters: Dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it

    def body(self) -> dict:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def args(self) -> Dict[str, Any]:
        """The arguments as an object, for Cats that want one (unparseable text is kept under `_raw`)."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {"_raw": self.arguments}
        return value if isinstance(value, dict) else {"_value": value}


def client_tools(tools: Optional[List[Dict[str, Any]]], choice: Optional[Union[str, Dict[str, Any]]]) -> List[ClientTool]:
    """The functions to offer the Cat's model for this request (none when `tool_choice` is "none")."""
    if not tools:
        if isinstance(choice, dict) or choice in ("required",):
            raise invalid_request("'tool_choice' needs 'tools' to choose from.", "tool_choice", "invalid_value")
        return []
    offered: List[ClientTool] = []
    for i, raw in enumerate(tools):
        where = f"tools.[{i}]"
        if raw.get("type") != "function":
            raise invalid_request(
                f"Invalid value for '{where}.type': only 'function' tools are supported.", f"{where}.type", "invalid_value"
            )
        fn = raw.get("function")
        if not isinstance(fn, dict):
            raise invalid_request(f"Missing required parameter: '{where}.function'.", f"{where}.function",
                                  "missing_required_parameter")
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise invalid_request(
                f"Invalid '{where}.function.name': expected a string of letters, digits, '_' or '-' (at most 64).",
                f"{where}.function.name", "invalid_value",
            )
        parameters = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict):
            raise invalid_request(f"Invalid type for '{where}.function.parameters': expected an object.",
                                  f"{where}.function.parameters", "invalid_type")
        description = fn.get("description") or ""
        if not isinstance(description, str):
            raise invalid_request(f"Invalid type for '{where}.function.description': expected a string.",
                                  f"{where}.function.description", "invalid_type")
        offered.append(ClientTool(name, description, parameters))
    if len({t.name for t in offered}) != len(offered):
        raise invalid_request("Tool names must be unique.", "tools", "invalid_value")
    if choice is None or choice == "auto":
        return offered
    if choice == "none":
        return []
    raise invalid_request(
        "Only tool_choice 'auto' and 'none' are supported: the Cat's agent decides when to call a tool.",
        "tool_choice", "unsupported_value",
    )


def tool_call_of(raw: object, where: str) -> ToolCall:
    """One entry of an assistant message's `tool_calls`, validated."""
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
        raise invalid_request(f"Invalid type for '{where}': expected a function tool call.", where, "invalid_type")
    call_id, fn = raw.get("id"), raw["function"]
    name, arguments = fn.get("name"), fn.get("arguments", "{}")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(f"Missing required parameter: '{where}.id'.", f"{where}.id", "missing_required_parameter")
    if not isinstance(name, str) or not isinstance(arguments, str):
        raise invalid_request(f"Invalid '{where}.function': 'name' and 'arguments' must be strings.",
                              f"{where}.function", "invalid_type")
    return ToolCall(call_id, name, arguments)

"""Test-only Cat v1 plugin: hooks naming the user and editing answers, a real tool, and the process's live threads."""

from cat.mad_hatter.decorators import endpoint, hook, tool

# v1 offers a tool to its agent only when the user's message is close to one of the tool's examples in its
# procedural memory (cosine 0.7 or more), so the tests ask exactly this.
SECRET_ASK = 'Ask the cheshire secret [[call:cheshire_secret:"alice"]]'


@tool(examples=[SECRET_ASK])
def cheshire_secret(name, cat):
    """Look up the Cheshire Cat's secret word for a name."""
    return f"the secret of {name} is MOONLIGHT-{len(name)}"


@hook
def before_cat_sends_message(message, cat):
    """Answers containing PURR get a suffix: proof the Cat's own hooks ran on the bridge's turn."""
    if "PURR" in message.text:
        message.text += " (hooked)"
    return message


_LAST_SAID = {}  # user id -> their previous message: a per-user memory, like v2's user store


@hook
def agent_prompt_suffix(suffix, cat):
    """The user the turn runs as and what they said last time, at the end of the system prompt."""
    user = cat.user_data
    previous = _LAST_SAID.get(user.id, "").replace("{", "{{").replace("}", "}}")  # the prompt is a template
    _LAST_SAID[user.id] = cat.working_memory.user_message_json.text.split("[[")[0].strip()
    return f"{suffix}\n[probe-user:{user.name}:{user.id}]\n[probe-memory:{previous}]"


@endpoint.get("/probe/stats", prefix="/custom")
async def probe_stats():
    """Test-only: live asyncio tasks and threads, to prove disconnects leak nothing."""
    import asyncio
    import threading

    return {"tasks": len(asyncio.all_tasks()), "threads": threading.active_count()}

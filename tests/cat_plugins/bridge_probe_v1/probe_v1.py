"""Test-only Cat v1 plugin: hooks naming the user and editing answers, and the process's live threads."""

from cat.mad_hatter.decorators import endpoint, hook


@hook
def before_cat_sends_message(message, cat):
    """Answers containing PURR get a suffix: proof the Cat's own hooks ran on the bridge's turn."""
    if "PURR" in message.text:
        message.text += " (hooked)"
    return message


@hook
def agent_prompt_suffix(suffix, cat):
    """The user the turn runs as, at the end of the system prompt (after the bridge's own prefix)."""
    user = cat.user_data
    return f"{suffix}\n[probe-user:{user.name}:{user.id}]"


@endpoint.get("/probe/stats", prefix="/custom")
async def probe_stats():
    """Test-only: live asyncio tasks and threads, to prove disconnects leak nothing."""
    import asyncio
    import threading

    return {"tasks": len(asyncio.all_tasks()), "threads": threading.active_count()}

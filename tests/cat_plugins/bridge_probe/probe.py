"""Test-only Cat v2 plugin: a second agent, a directive naming the user, a hook editing answers."""

from cat import Agent, Directive, endpoint, hook, user
from cat.ambient.context_vars import ctx


class UserTag(Directive):
    slug = "probe_user_tag"

    async def step(self, agent) -> None:
        agent.system_prompt += f"\n\n[probe-user:{user.name}:{user.id}]"
        request = ctx().request
        chat = getattr(request.state, "openai_bridge_conversation", "") if request is not None else ""
        agent.system_prompt += f"\n[probe-chat:{chat}]"
        # The user's own Cat memory (UserStore): what they said last time, then remember this turn.
        previous = await user.load("probe_last", "")
        agent.system_prompt += f"\n[probe-memory:{previous}]"
        said = agent.task.messages[-1].text if agent.task.messages else ""
        await user.save("probe_last", said.split("[[")[0].strip())


class ProbeAgent(Agent):
    slug = "probe"
    name = "Probe"
    description = "Answers as the probe."
    system_prompt = "You are the probe agent."
    directives = ["probe_user_tag"]


COMPLETED: dict = {}  # user id -> the answers that reached after_agent_run (where memory plugins store a turn)


@hook
def after_agent_run(result):
    """Answers containing PURR get a suffix: proof the Cat's hooks ran."""
    for message in result.messages:
        for block in message.content:
            if getattr(block, "text", None) and "PURR" in block.text:
                block.text += " (hooked)"
    COMPLETED.setdefault(str(user.id), []).append(result.messages[-1].text if result.messages else "")
    return result


@endpoint.get("/probe/completed/{user_id}", prefix="/custom")
async def probe_completed(user_id: str):
    """Test-only: what after_agent_run saw for this user, and what the probe directive stored before the LLM."""
    return {"completed": COMPLETED.get(user_id, [])}


@endpoint.get("/probe/stats", prefix="/custom")
async def probe_stats():
    """Test-only: live asyncio tasks and threads, to prove disconnects leak nothing."""
    import asyncio
    import threading

    return {"tasks": len(asyncio.all_tasks()), "threads": threading.active_count()}

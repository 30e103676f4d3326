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


@hook
def after_agent_run(result):
    """Answers containing PURR get a suffix: proof the Cat's hooks ran."""
    for message in result.messages:
        for block in message.content:
            if getattr(block, "text", None) and "PURR" in block.text:
                block.text += " (hooked)"
    return result


@endpoint.get("/probe/stats", prefix="/custom")
async def probe_stats():
    """Test-only: live asyncio tasks and threads, to prove disconnects leak nothing."""
    import asyncio
    import threading

    return {"tasks": len(asyncio.all_tasks()), "threads": threading.active_count()}

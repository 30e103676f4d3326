"""Cat v1 hooks: the client's system messages reach the agent's prompt prefix.

Only a request's private StrayCat carries `openai_bridge_system`; every other
conversation passes through untouched. Defined only when a v1 Cat imports this.
"""

from __future__ import annotations

from .cat_version import running_v2

if not running_v2():
    from cat.mad_hatter.decorators import hook

    def _template(text: str) -> str:
        return text.replace("{", "{{").replace("}", "}}")  # the prefix is a langchain template

    @hook(priority=0)  # after other plugins, so `replace` really replaces
    def agent_prompt_prefix(prefix, cat):
        system = getattr(cat, "openai_bridge_system", None)
        if system:
            policy, text = system
            prefix = _template(text) if policy == "replace" else f"{prefix}\n\n{_template(text)}"
        # The form the answer must take (JSON, a schema): the bridge's own instruction, under any policy.
        instructions = getattr(cat, "openai_bridge_instructions", "")
        return f"{prefix}\n\n{_template(instructions)}" if instructions else prefix

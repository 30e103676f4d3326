"""Test-only: a Cat agent with a real `@tool`, so tests can watch the Cat's own tools run inside a bridge turn."""

from cat import Agent, tool


class SecretKeeper(Agent):
    slug = "secrets"
    name = "Secret keeper"
    description = "Looks secrets up with its own tool."
    system_prompt = "You keep the Cheshire Cat's secrets: look them up with your tool, never guess."

    @tool
    async def cheshire_secret(self, name: str) -> str:
        """Look up the Cheshire Cat's secret word for a name."""
        return f"the secret of {name} is MOONLIGHT-{len(name)}"

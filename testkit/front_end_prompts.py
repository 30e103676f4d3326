"""Chat front ends' housekeeping prompts, as the model receives them: one user message, the filled-in template.

Copied from the front ends' own sources (only the start of each matters: that is what the bridge looks at):
- Open WebUI 0.12, backend/open_webui/config.py: DEFAULT_{TITLE,TAGS,FOLLOW_UP,QUERY,AUTOCOMPLETE,IMAGE_PROMPT,
  DOCUMENT_SUGGESTIONS,EMOJI,MOA}_GENERATION_PROMPT_TEMPLATE; routers/tasks.py sends each as
  `messages: [{"role": "user", "content": <filled-in template>}]`.
- LibreChat, through @librechat/agents src/utils/title.ts: `defaultCompletionPrompt` (title method `completion`,
  the default) and `defaultTitlePrompt` (`structured` / `functions`), each one human message.
"""

from __future__ import annotations

TEMPLATES = {
    "open-webui-title": "### Task:\nGenerate a concise title summarizing the chat history.\n### Guidelines:\n"
    "- The title should clearly represent the main theme or subject of the conversation.",
    "open-webui-tags": "### Task:\nGenerate 1-3 broad tags categorizing the main themes of the chat history, along "
    "with 1-3 more specific subtopic tags.\n\n### Guidelines:",
    "open-webui-follow-ups": "### Task:\nSuggest 3-5 relevant follow-up questions or prompts that the user might "
    "naturally ask next in this conversation as a **user**",
    "open-webui-queries": "### Task:\nAnalyze the chat history to determine the necessity of generating search "
    "queries, in the given language.",
    "open-webui-autocomplete": "### Task:\nYou are an autocompletion system. Continue the text in `<text>` based on "
    "the **completion type** in `<type>` and the given language.  \n",
    "open-webui-image-prompt": "### Task:\nGenerate a detailed prompt for am image generation task based on the "
    "given language and context.",
    "open-webui-document-suggestions": "### Task:\nGenerate 3-5 insightful questions a user would naturally want to "
    "ask about the provided document content",
    "open-webui-emoji": "Your task is to reflect the speaker's likely facial expression through a fitting emoji. "
    "Interpret emotions from the message and reflect their facial expression using fitting, diverse emojis "
    "(e.g., 😊, 😢, 😡, 😱).\n\nMessage: ```I finally passed the exam!```",
    "open-webui-moa": 'You have been provided with a set of responses from various models to the latest user query: "'
    'What is a cat?"\n\nYour task is to synthesize these responses into a single, high-quality response.',
    "librechat-title": "Provide a concise, 5-word-or-less title for the conversation, using title case conventions. "
    "Only return the title itself.\n\nConversation:\nUser: hi\nAI: hello",
    "librechat-title-structured": "Analyze this conversation and provide:\n1. The detected language of the "
    "conversation\n2. A concise title in the detected language (5 words or less, no punctuation or quotation)\n\n"
    "User: hi\nAI: hello",
}

// Structured outputs and forced tool calls through the bridge with the Vercel AI SDK and LangChain JS.
// `node structured.mjs json|tools` runs that group of cases and prints one JSON line: per case what it
// returned (or the error it threw), what the client sent (endpoint, response_format / text.format,
// tool_choice), the AI SDK's warnings, and how many calls the Cat made to its LLM (LLM_URL's request log).
import { generateObject, generateText, Output, streamObject, streamText, tool as aiTool } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { createOpenAI } from "@ai-sdk/openai";
import { ChatOpenAI } from "@langchain/openai";
import { tool as lcTool } from "@langchain/core/tools";
import { z } from "zod";

const base = process.env.BRIDGE_BASE_URL;
const apiKey = process.env.BRIDGE_API_KEY;
const llmLog = process.env.LLM_URL ? `${process.env.LLM_URL}/_requests` : null;

let sent = [];
let warnings = [];
globalThis.AI_SDK_LOG_WARNINGS = ({ warnings: list }) => warnings.push(...list.map((w) => w.feature ?? w.setting ?? w.type));

// Every request the clients make goes through here: what they send is part of what the tests assert.
async function recording(url, init) {
  const body = typeof init?.body === "string" ? JSON.parse(init.body) : {};
  sent.push({
    path: String(url).slice(base.length),
    response_format: body.response_format,
    text_format: body.text?.format,
    tool_choice: body.tool_choice,
    tools: body.tools?.map((t) => t.name ?? t.function?.name),
    stream: body.stream ?? false,
  });
  return fetch(url, init);
}

const City = z.object({
  name: z.string(),
  population: z.number().int(),
  area: z.number(),
  tags: z.array(z.string()),
  kind: z.enum(["city", "town"]),
});
const PROMPT = "Tell me of Rome";
// The scripted LLM answers this every time, re-ask included: a schema violation the bridge must not pass on.
const BROKEN = 'Rome [[stubborn]] [[reply:{"name": "Rome", "population": "many", "area": 1.5, "tags": [], "kind": "city"}]]';

const compatible = (options) => createOpenAICompatible({ name: "cat", baseURL: base, apiKey, fetch: recording, ...options });
const openaiProvider = createOpenAI({ baseURL: base, apiKey, fetch: recording });
const models = {
  compatible: compatible({})("cheshire-cat"),
  compatibleStructured: compatible({ supportsStructuredOutputs: true })("cheshire-cat"),
  openai: openaiProvider("cheshire-cat"), // the Responses API, by default
  openaiChat: openaiProvider.chat("cheshire-cat"),
};
const chatOpenAI = (options = {}) =>
  new ChatOpenAI({ model: "cheshire-cat", apiKey, maxRetries: 0, configuration: { baseURL: base, fetch: recording }, ...options });

// maxRetries: 0 everywhere: both clients retry a 502 and ignore `x-should-retry: false` (the AI SDK twice,
// LangChain six times with backoff), which would only repeat the error cases.
async function generated(model, prompt = PROMPT) {
  return (await generateObject({ model, schema: City, prompt, maxRetries: 0 })).object;
}

// The partial objects as they come, then the final one (or the error the stream ended with).
async function streamed(model, prompt = PROMPT) {
  let failure = null;
  const result = streamObject({ model, schema: City, prompt, maxRetries: 0, onError: ({ error }) => (failure = error) });
  const partials = [];
  for await (const partial of result.partialObjectStream) partials.push(partial);
  try {
    return { partials, object: await result.object };
  } catch (error) {
    return { partials, error: described(failure ?? error) };
  }
}

async function outputObject(model) {
  return (await generateText({ model, output: Output.object({ schema: City }), prompt: PROMPT, maxRetries: 0 })).output;
}

async function outputObjectStreamed(model) {
  const result = streamText({ model, output: Output.object({ schema: City }), prompt: PROMPT, maxRetries: 0 });
  const partials = [];
  for await (const partial of result.partialOutputStream) partials.push(partial);
  return { partials, object: await result.output };
}

const weatherTools = () => ({
  get_weather: aiTool({ description: "The weather in a city", inputSchema: z.object({ city: z.string(), days: z.number().int().min(3) }) }),
  get_time: aiTool({ description: "The time now", inputSchema: z.object({}) }),
});

async function forcedCall(model, toolChoice, prompt = "Weather in Rome?") {
  const result = await generateText({ model, tools: weatherTools(), toolChoice, prompt, maxRetries: 0 });
  return { calls: result.toolCalls.map((c) => [c.toolName, c.input]), finishReason: result.finishReason };
}

const lcWeather = lcTool(async () => "sunny", {
  name: "get_weather",
  description: "The weather in a city",
  schema: z.object({ city: z.string(), days: z.number().int().min(3) }),
});

const groups = {
  json: {
    "ai-sdk compatible generateObject": () => generated(models.compatible),
    "ai-sdk compatible streamObject": () => streamed(models.compatible),
    "ai-sdk compatible+structured generateObject": () => generated(models.compatibleStructured),
    "ai-sdk compatible+structured streamObject": () => streamed(models.compatibleStructured),
    "ai-sdk openai generateObject": () => generated(models.openai),
    "ai-sdk openai streamObject": () => streamed(models.openai),
    "ai-sdk openai.chat generateObject": () => generated(models.openaiChat),
    "ai-sdk openai.chat streamObject": () => streamed(models.openaiChat),
    "ai-sdk openai generateText Output.object": () => outputObject(models.openai),
    "ai-sdk compatible+structured streamText Output.object": () => outputObjectStreamed(models.compatibleStructured),
    "langchain withStructuredOutput": () => chatOpenAI().withStructuredOutput(City).invoke(PROMPT),
    "langchain withStructuredOutput responses": () =>
      chatOpenAI({ useResponsesApi: true }).withStructuredOutput(City).invoke(PROMPT),
    "ai-sdk compatible+structured generateObject broken": () => generated(models.compatibleStructured, BROKEN),
    "ai-sdk openai.chat streamObject broken": () => streamed(models.openaiChat, BROKEN),
    "ai-sdk openai streamObject broken": () => streamed(models.openai, BROKEN),
    "langchain withStructuredOutput broken": () => chatOpenAI().withStructuredOutput(City).invoke(BROKEN),
  },
  tools: {
    "ai-sdk compatible toolChoice required": () => forcedCall(models.compatible, "required"),
    "ai-sdk compatible toolChoice named": () => forcedCall(models.compatible, { type: "tool", toolName: "get_weather" }),
    "ai-sdk openai toolChoice required": () => forcedCall(models.openai, "required"),
    "ai-sdk openai.chat toolChoice required": () => forcedCall(models.openaiChat, "required"),
    "langchain withStructuredOutput functionCalling": () =>
      chatOpenAI().withStructuredOutput(City, { method: "functionCalling" }).invoke(PROMPT),
    "langchain withStructuredOutput functionCalling responses": () =>
      chatOpenAI({ useResponsesApi: true }).withStructuredOutput(City, { method: "functionCalling" }).invoke(PROMPT),
    "langchain bindTools tool_choice any": async () => {
      const message = await chatOpenAI().bindTools([lcWeather], { tool_choice: "any" }).invoke("Weather in Rome?");
      return message.tool_calls.map((c) => [c.name, c.args]);
    },
    "langchain bindTools tool_choice any responses": async () => {
      const model = chatOpenAI({ useResponsesApi: true }).bindTools([lcWeather], { tool_choice: "any" });
      const message = await model.invoke("Weather in Rome?");
      return message.tool_calls.map((c) => [c.name, c.args]);
    },
    "ai-sdk compatible toolChoice required text instead": () =>
      forcedCall(models.compatible, "required", "Weather? [[stubborn]] [[reply:I would rather not]]"),
  },
};

function described(error) {
  const status = error.statusCode ?? error.status ?? null;
  return { name: error.name ?? null, status, message: String(error.message).split("\n")[0], text: error.text ?? null };
}

async function llmCalls(method) {
  if (!llmLog) return null;
  const response = await fetch(llmLog, { method });
  return (await response.json()).length;
}

const seen = {};
for (const [name, run] of Object.entries(groups[process.argv[2]])) {
  sent = [];
  warnings = [];
  await llmCalls("DELETE");
  const outcome = {};
  try {
    outcome.value = await run();
  } catch (error) {
    outcome.error = described(error);
  }
  seen[name] = { ...outcome, sent, warnings: [...new Set(warnings)], llmCalls: await llmCalls("GET") };
}
console.log(JSON.stringify(seen));

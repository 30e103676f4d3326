// Drives the bridge's Messages API with the official Anthropic TypeScript SDK; prints one JSON line of what it saw.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.BRIDGE_ANTHROPIC_BASE_URL, apiKey: process.env.BRIDGE_API_KEY, maxRetries: 0 });

const message = await client.messages.create({
  model: "cheshire-cat",
  max_tokens: 200,
  system: "Be kind.",
  messages: [{ role: "user", content: "hello from node" }],
});
const events = [];
const stream = client.messages.stream({
  model: "cheshire-cat",
  max_tokens: 200,
  messages: [{ role: "user", content: "[[tokens:3]] [[delay:10]]" }],
});
stream.on("streamEvent", (event) => events.push(event.type));
const texts = [];
stream.on("text", (text) => texts.push(text));
const final = await stream.finalMessage();
const counted = await client.messages.countTokens({ model: "cheshire-cat", messages: [{ role: "user", content: "hi" }] });
let error = null;
try {
  await client.messages.create({ model: "no-such-agent", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
} catch (e) {
  error = { status: e.status, class: e.constructor.name, type: e.error?.error?.type, requestId: e.requestID };
}
let failed = null;
const broken = client.messages.stream({
  model: "cheshire-cat",
  max_tokens: 100,
  messages: [{ role: "user", content: "[[tokens:10]] [[fail:after:2]]" }],
});
const before = [];
broken.on("text", (text) => before.push(text));
try {
  await broken.finalMessage();
} catch (e) {
  failed = { before, type: e.error?.error?.type ?? e.error?.type ?? null, message: String(e.message).slice(0, 200) };
}
// Older SDKs, curl and Claude Code with ANTHROPIC_API_KEY send the key as x-api-key.
const byHeader = new Anthropic({
  baseURL: process.env.BRIDGE_ANTHROPIC_BASE_URL,
  apiKey: null,
  defaultHeaders: { "x-api-key": process.env.BRIDGE_API_KEY },
  maxRetries: 0,
});
const viaHeader = await byHeader.messages.create({
  model: "cheshire-cat",
  max_tokens: 50,
  messages: [{ role: "user", content: "by x-api-key" }],
});
const models = [];
for await (const model of client.models.list()) models.push(model.id);
console.log(JSON.stringify({
  text: message.content[0].text,
  stopReason: message.stop_reason,
  usage: message.usage,
  requestId: message._request_id,
  events,
  texts,
  finalText: final.content[0].text,
  finalStop: final.stop_reason,
  finalUsage: final.usage,
  counted: counted.input_tokens,
  error,
  failed,
  models,
  viaHeader: viaHeader.content[0].text,
}));

// Drives the bridge with the official openai Node SDK; prints one JSON line of what it saw.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BRIDGE_BASE_URL, apiKey: process.env.BRIDGE_API_KEY, maxRetries: 0 });

const models = await client.models.list();
const completion = await client.chat.completions.create({
  model: "cheshire-cat",
  messages: [{ role: "system", content: "Be kind." }, { role: "user", content: "hello from node" }],
});
const stream = await client.chat.completions.create({
  model: "cheshire-cat",
  messages: [{ role: "user", content: "[[tokens:5]] [[delay:10]]" }],
  stream: true,
  stream_options: { include_usage: true },
});
const deltas = [];
let usage = null;
let finish = null;
for await (const chunk of stream) {
  if (chunk.choices.length && chunk.choices[0].delta.content) deltas.push(chunk.choices[0].delta.content);
  if (chunk.choices.length && chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  if (chunk.usage) usage = chunk.usage;
}
let error = null;
try {
  await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
} catch (e) {
  error = { status: e.status, code: e.code, param: e.param };
}
const response = await client.responses.create({ model: "cheshire-cat", input: "node responses" });
const responseEvents = [];
for await (const event of await client.responses.create({ model: "cheshire-cat", input: "[[tokens:3]]", stream: true })) {
  responseEvents.push(event.type === "response.output_text.delta" ? event.delta : event.type);
}
const helper = client.responses.stream({ model: "cheshire-cat", input: "[[tokens:2]]" });
const final = await helper.finalResponse();
console.log(JSON.stringify({
  models: models.data.map((m) => m.id),
  content: completion.choices[0].message.content,
  finish: completion.choices[0].finish_reason,
  usage: completion.usage,
  deltas,
  streamFinish: finish,
  streamUsage: usage,
  error,
  responseText: response.output_text,
  responseEvents,
  streamedResponse: { status: final.status, text: final.output_text },
}));

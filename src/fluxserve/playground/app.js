// The playground: the model list comes from /v1/models (the model registry) and each
// endpoint's fields from its request schema in /openapi.json, so new models need no edit here.
"use strict";

const $ = (id) => document.getElementById(id);
// Fields that carry input images: shown as an upload (sent as a data: URL) or a link.
const IMAGE_FIELDS = new Set(["image", "image_url", "image_urls", "input_image", "mask"]);
// Fields the playground answers itself (webhooks and waiting are for programs, not people).
const HIDDEN_FIELDS = new Set(["webhook", "webhook_url", "webhook_events_filter", "sync_mode", "loras"]);
const POLL_MS = 400;
const state = { key: localStorage.getItem("fluxserve-key") || "", models: [], schemas: {}, paths: {} };

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function errorText(status, body) {
  if (body && typeof body === "object") {
    const parts = [body.error, body.message].filter((p) => typeof p === "string");
    if (parts.length) return `${status}: ${parts.join(" — ")}`;
  }
  return `${status}: the request failed`;
}

async function call(path, options = {}) {
  const headers = { "Ocp-Apim-Subscription-Key": state.key, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(response.status, body));
  return { status: response.status, body };
}

async function loadBalance() {
  if (!state.key) return;
  try {
    const { body } = await call("/v1/account");
    $("balance").textContent = `${body.name || body.key_prefix}: $${body.balance_usd}`;
    showError("");
  } catch (err) {
    $("balance").textContent = "";
    showError(err.message);
  }
}

function resolve(schema) {
  if (schema && schema.$ref) return state.schemas[schema.$ref.split("/").pop()];
  return schema;
}

function plain(schema) {
  // Optional fields are `anyOf: [T, null]`; the form shows T.
  const options = (schema.anyOf || [schema]).filter((s) => s.type !== "null");
  return { ...options[0], default: schema.default, description: schema.description };
}

function bodySchema(path) {
  const post = state.paths[path] && state.paths[path].post;
  const content = post && post.requestBody && post.requestBody.content["application/json"];
  return content ? resolve(content.schema) : null;
}

function labelFor(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function control(name, schema, required) {
  const s = plain(schema);
  let input;
  if (s.enum) {
    input = document.createElement("select");
    for (const value of s.enum) input.add(new Option(String(value), String(value)));
  } else if (s.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = s.default === true;
  } else if (name === "prompt") {
    input = document.createElement("textarea");
  } else {
    input = document.createElement("input");
    input.type = s.type === "integer" || s.type === "number" ? "number" : "text";
    if (s.type === "number") input.step = "any";
    if (s.minimum !== undefined) input.min = s.minimum;
    if (s.maximum !== undefined) input.max = s.maximum;
  }
  input.name = name;
  input.dataset.kind = s.type || "string";
  if (s.default !== undefined && s.default !== null && s.type !== "boolean") input.value = s.default;
  if (name === "seed") input.placeholder = "random";
  if (required) input.required = true;
  return input;
}

function imageControl(name, required) {
  const box = document.createElement("div");
  box.className = "image-input";
  const file = document.createElement("input");
  file.type = "file";
  file.accept = "image/*";
  file.name = `${name}__file`;
  const link = document.createElement("input");
  link.type = "url";
  link.name = name;
  link.placeholder = "…or an image URL";
  link.dataset.kind = "image";
  link.dataset.required = required ? "1" : "";
  box.append(file, link);
  return box;
}

function renderFields() {
  const fields = $("fields");
  fields.replaceChildren();
  const schema = bodySchema($("endpoint").value);
  if (!schema) return;
  const required = new Set(schema.required || []);
  const names = Object.keys(schema.properties).filter((n) => !HIDDEN_FIELDS.has(n));
  names.sort((a, b) => rank(a) - rank(b));
  for (const name of names) {
    const label = document.createElement("label");
    const isImage = IMAGE_FIELDS.has(name);
    const input = isImage ? imageControl(name, required.has(name)) : control(name, schema.properties[name], required.has(name));
    const checkbox = input.type === "checkbox";
    label.className = checkbox ? "check" : (name === "prompt" || isImage ? "wide" : "");
    if (checkbox) label.append(input, labelFor(name));
    else label.append(labelFor(name), input);
    fields.append(label);
  }
}

function rank(name) {
  if (name === "prompt") return 0;
  return IMAGE_FIELDS.has(name) ? 1 : 2;
}

function renderEndpoints() {
  const model = state.models.find((m) => m.model_id === $("model").value);
  const select = $("endpoint");
  select.replaceChildren();
  for (const route of model.routes) select.add(new Option(route.path.split("/").pop(), route.path));
  $("endpoint-label").hidden = model.routes.length < 2;
  const demo = model.demo_weights ? " · demo weights (noise)" : "";
  $("model-note").textContent = `${model.title} · $${model.price_usd} per image${demo}`;
  renderFields();
}

async function loadModels() {
  const [catalog, openapi] = await Promise.all([
    fetch("/v1/models").then((r) => r.json()),
    fetch("/openapi.json").then((r) => r.json()),
  ]);
  state.schemas = openapi.components.schemas;
  state.paths = openapi.paths;
  // Trainers take datasets, not prompts; batch routes are for programs with webhooks.
  state.models = catalog.models
    .filter((m) => m.enabled && m.default_steps !== null)
    .map((m) => ({ ...m, routes: m.routes.filter((r) => r.mode !== "batch" && bodySchema(r.path)) }))
    .filter((m) => m.routes.length);
  for (const m of state.models) $("model").add(new Option(m.model_id, m.model_id));
  renderEndpoints();
}

function readFile(file) {
  return new Promise((done, fail) => {
    const reader = new FileReader();
    reader.onload = () => done(reader.result);
    reader.onerror = () => fail(new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

async function collectBody() {
  const body = {};
  for (const input of $("fields").querySelectorAll("[name]")) {
    const name = input.name;
    if (name.endsWith("__file")) continue;
    if (input.dataset.kind === "image") {
      const file = $("fields").querySelector(`[name="${name}__file"]`).files[0];
      const value = file ? await readFile(file) : input.value.trim();
      if (!value && input.dataset.required) throw new Error(`${labelFor(name)}: upload an image or give its URL`);
      if (value) body[name] = name === "image_urls" ? [value] : value;
    } else if (input.type === "checkbox") {
      body[name] = input.checked;
    } else if (input.value.trim() !== "") {
      const kind = input.dataset.kind;
      body[name] = kind === "integer" || kind === "number" ? Number(input.value) : input.value.trim();
    }
  }
  // A seed chosen here is a seed the gallery can show.
  const seedInput = $("fields").querySelector('[name="seed"]');
  if (seedInput && body.seed === undefined) body.seed = Math.floor(Math.random() * 2 ** 31);
  return body;
}

function setProgress(text, step, total) {
  $("progress").hidden = false;
  $("progress-text").textContent = text;
  const bar = $("progress-bar");
  if (total) { bar.max = total; bar.value = step; } else { bar.removeAttribute("value"); }
}

async function waitFor(requestId) {
  for (;;) {
    const { body } = await call(`/v2/requests/status/${encodeURIComponent(requestId)}`);
    if (body.status === "COMPLETED") return body.output.media_url;
    if (body.status === "FAILED" || body.status === "ERROR") throw new Error(`${body.status}: ${body.error}`);
    if (body.status === "CANCELLED") throw new Error("CANCELLED: the request was cancelled; not charged");
    const p = body.progress;
    if (body.status === "QUEUED") {
      const ahead = body.queue_position;
      setProgress(ahead === undefined ? "Queued" : `Queued (${ahead} ahead)`, 0, 0);
    }
    else if (p && p.total) setProgress(`Step ${p.step} of ${p.total}`, p.step, p.total);
    else setProgress("Processing", 0, 0);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function addToGallery(urls, model, body) {
  $("gallery-empty").hidden = true;
  urls.forEach((url, index) => {
    const card = document.createElement("figure");
    card.className = "card";
    card.style.margin = "0";
    const img = document.createElement("img");
    img.src = url;
    img.alt = body.prompt || "result";
    const meta = document.createElement("figcaption");
    meta.className = "meta";
    const prompt = document.createElement("div");
    prompt.className = "prompt";
    prompt.textContent = body.prompt || "(no prompt)";
    const params = document.createElement("div");
    params.className = "params";
    const shown = Object.entries(body)
      .filter(([k, v]) => k !== "prompt" && !(typeof v === "string" && v.startsWith("data:")) && !Array.isArray(v))
      .map(([k, v]) => `${k}: ${k === "seed" ? Number(v) + index : v}`);
    params.textContent = [`model: ${model}`, ...shown].join(" · ");
    const link = document.createElement("a");
    link.href = url;
    link.download = url.split("/").pop();
    link.textContent = "Download";
    meta.append(prompt, params, link);
    card.append(img, meta);
    $("gallery").prepend(card);
  });
}

async function generate(event) {
  event.preventDefault();
  showError("");
  if (!state.key) { showError("Paste your API key first"); return; }
  const button = $("submit");
  button.disabled = true;
  try {
    const body = await collectBody();
    const path = $("endpoint").value;
    setProgress("Submitting", 0, 0);
    const answer = await call(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const urls = answer.body.output && typeof answer.body.output === "string"
      ? [answer.body.output]
      : await waitFor(answer.body.request_id);
    addToGallery(urls, $("model").value, body);
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
    $("progress").hidden = true;
    loadBalance();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = state.key;
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("api-key").value.trim();
    localStorage.setItem("fluxserve-key", state.key);
    loadBalance();
  });
  $("model").addEventListener("change", renderEndpoints);
  $("endpoint").addEventListener("change", renderFields);
  $("gen-form").addEventListener("submit", generate);
  loadModels().then(loadBalance).catch((err) => showError(`Could not load the models: ${err.message}`));
});

// The local web chat. Every piece of text from the server is put in with textContent, never as HTML.
"use strict";

const S = JSON.parse(document.getElementById("dxlab-strings").textContent);
const log = document.getElementById("log");
const form = document.getElementById("composer");
const input = document.getElementById("question");
const send = document.getElementById("send");
const URL_PATTERN = /(https?:\/\/[^\s<>"'「」()()、。]+)/g;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Text with its http(s) addresses as links; everything else stays plain text.
function linked(tag, className, text) {
  const node = el(tag, className);
  text.split(URL_PATTERN).forEach((part, i) => {
    if (i % 2 === 1) {
      const a = el("a", null, part);
      a.href = part;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node.appendChild(a);
    } else if (part) {
      node.appendChild(document.createTextNode(part));
    }
  });
  return node;
}

function bubble(kind, who) {
  const node = el("div", "msg " + kind);
  node.appendChild(el("span", "who", who));
  log.appendChild(node);
  return node;
}

// The newest message, its sources and buttons included, must be fully visible above the input bar.
function scrollDown() {
  const last = log.lastElementChild;
  if (!last) return;
  last.scrollIntoView({ block: "end" });
  const bar = document.getElementById("composer").getBoundingClientRect();
  const hidden = last.getBoundingClientRect().bottom - bar.top + 8;
  if (hidden > 0) window.scrollBy(0, hidden);
}

// The conversation survives a reload: what was shown is kept in this tab's session storage.
const HISTORY_KEY = "dxlab-history";
const UPDATES_KEY = "dxlab-last-update";
function remember(entry) {
  const history = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]");
  history.push(entry);
  try {
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(-100)));
  } catch (full) { // images make entries large: a full store only means a reload replays less
    console.warn("chat history not kept:", full);
  }
}

function buttonRow(buttons, className) {
  const row = el("div", className);
  for (const b of buttons) {
    const button = el("button", null, b.label);
    button.type = "button";
    button.dataset.action = b.action;
    button.addEventListener("click", () => {
      // One answer, one vote: the row's buttons are spent once one is pressed.
      row.querySelectorAll("button").forEach((other) => { other.disabled = true; });
      post({ action: b.action, value: b.value }, b.action === "ask" ? b.label : null);
    });
    row.appendChild(button);
  }
  return row;
}

function formNode(spec) {
  const node = el("form", "inline-form");
  node.appendChild(el("p", "form-title", spec.title));
  for (const f of spec.fields) {
    const label = el("label", null, f.label + (f.required ? " *" : ""));
    let input;
    if (f.options && f.options.length) {
      input = el("select");
      for (const o of f.options) {
        const option = el("option", null, o.label);
        option.value = o.value;
        if (o.value === f.initial) option.selected = true;
        input.appendChild(option);
      }
    } else {
      input = el(f.multiline ? "textarea" : "input");
      input.value = f.initial || "";
      input.placeholder = f.placeholder || "";
    }
    input.name = f.name;
    input.required = !!f.required;
    label.appendChild(input);
    node.appendChild(label);
  }
  const submit = el("button", null, spec.submit_label);
  submit.type = "submit";
  node.appendChild(submit);
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const f of spec.fields) values[f.name] = node.elements[f.name].value;
    node.querySelectorAll("input, textarea, select, button").forEach((x) => { x.disabled = true; });
    post({ form: spec.id, values, context: spec.context || "" }, spec.submit_label);
  });
  return node;
}

// A polled message that replaces an earlier one (a live count): the earlier one goes, here and in history.
function forget(id) {
  const history = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]");
  const kept = history.filter((e) => !e.reply || (e.reply.replaces || e.reply.id) !== id);
  sessionStorage.setItem(HISTORY_KEY, JSON.stringify(kept));
}

function showReply(reply, replaying) {
  const shown = reply.replaces ? log.querySelector(`[data-message="${Number(reply.replaces)}"]`) : null;
  if (reply.replaces && !replaying) forget(reply.replaces);
  if (!replaying) remember({ who: "bot", reply });
  const node = bubble("bot" + (reply.ephemeral ? " ephemeral" : ""), S.bot);
  if (reply.id) node.dataset.message = String(Number(reply.replaces || reply.id));
  if (shown) shown.replaceWith(node);
  if (reply.title) node.appendChild(el("p", "title", reply.title));
  node.appendChild(linked("p", "text", reply.text || ""));
  if (reply.source) node.appendChild(linked("p", "source", reply.source));
  if (reply.image) {
    const image = el("img", "attachment");
    image.src = reply.image.src; // a data: URL (the page's CSP allows img-src data:)
    image.alt = reply.image.title;
    node.appendChild(image);
  }
  if (reply.buttons && reply.buttons.length) node.appendChild(buttonRow(reply.buttons, "buttons"));
  if (reply.suggestions && reply.suggestions.length) {
    if (reply.suggestion_intro) node.appendChild(el("p", "intro", reply.suggestion_intro));
    node.appendChild(buttonRow(reply.suggestions, "buttons suggestions"));
  }
  if (reply.form && !replaying) node.appendChild(formNode(reply.form));
  scrollDown();
}

function showUser(text, replaying) {
  if (!replaying) remember({ who: "user", text });
  bubble("user", S.you).appendChild(el("p", "text", text));
}

async function post(body, shownAsUser) {
  if (shownAsUser) showUser(shownAsUser);
  const waiting = bubble("bot thinking", S.bot);
  waiting.appendChild(el("p", "text", S.thinking));
  scrollDown();
  send.disabled = true;
  try {
    const response = await fetch("/webchat/api/message", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    waiting.remove();
    if (data.text || data.form || data.title) showReply(data);
    else if (!response.ok) showReply({ text: S.offline, ephemeral: true });
  } catch (err) {
    waiting.remove();
    showReply({ text: S.offline, ephemeral: true });
  } finally {
    send.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || send.disabled) return;
  input.value = "";
  post({ text }, text);
});

input.addEventListener("keydown", (event) => {
  // Enter sends; Shift+Enter is a line break; Enter that confirms a kana-kanji conversion does neither.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    form.requestSubmit();
  }
});

document.title = S.title;
input.placeholder = S.placeholder;
input.setAttribute("aria-label", S.placeholder);
send.textContent = S.send;
document.getElementById("hint").textContent = S.hint;
log.setAttribute("aria-label", S.log_label);
// Messages the bot sends on its own (a reply from an expert, a reminder) arrive through polling.
async function poll() {
  const after = sessionStorage.getItem(UPDATES_KEY) || "0";
  try {
    const response = await fetch("/webchat/api/updates?after=" + encodeURIComponent(after),
                                 { credentials: "same-origin" });
    if (response.ok) {
      for (const message of (await response.json()).messages) {
        sessionStorage.setItem(UPDATES_KEY, String(message.id));
        showReply(message);
      }
    }
  } catch (err) { /* the server is restarting: try again at the next tick */ }
}

// Demo mode only: act as one of the fictional people of the demo directory.
async function demoSwitch() {
  const response = await fetch("/webchat/api/people", { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const label = el("label", "acting-as", S.acting_as + " ");
  const select = el("select");
  select.id = "acting-as";
  const options = [{ id: "", name: S.public, roles: [] }, ...data.people];
  for (const p of options) {
    const option = el("option", null, p.roles.length ? `${p.name}(${p.roles.join("・")})` : p.name);
    option.value = p.id;
    option.selected = p.id === data.as;
    select.appendChild(option);
  }
  select.addEventListener("change", async () => {
    await fetch("/webchat/api/as", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ person: select.value }) });
  });
  label.appendChild(select);
  document.querySelector(".chat-header").appendChild(label);
}

const clear = el("button", "clear", S.clear);
clear.type = "button";
clear.addEventListener("click", () => {
  sessionStorage.removeItem(HISTORY_KEY);
  log.replaceChildren();
  bubble("bot", S.bot).appendChild(el("p", "text", S.welcome));
});
document.querySelector(".chat-header").appendChild(clear);

bubble("bot", S.bot).appendChild(el("p", "text", S.welcome));
for (const entry of JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]")) {
  if (entry.who === "user") showUser(entry.text, true);
  else showReply(entry.reply, true);
}
demoSwitch();
poll();
setInterval(poll, 3000);
input.focus();

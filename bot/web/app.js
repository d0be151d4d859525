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

function scrollDown() {
  log.lastElementChild?.scrollIntoView({ block: "end" });
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

function showReply(reply) {
  const node = bubble("bot" + (reply.ephemeral ? " ephemeral" : ""), S.bot);
  node.appendChild(linked("p", "text", reply.text || ""));
  if (reply.source) node.appendChild(linked("p", "source", reply.source));
  if (reply.buttons && reply.buttons.length) node.appendChild(buttonRow(reply.buttons, "buttons"));
  if (reply.suggestions && reply.suggestions.length) {
    if (reply.suggestion_intro) node.appendChild(el("p", "intro", reply.suggestion_intro));
    node.appendChild(buttonRow(reply.suggestions, "buttons suggestions"));
  }
  scrollDown();
}

async function post(body, shownAsUser) {
  if (shownAsUser) bubble("user", S.you).appendChild(el("p", "text", shownAsUser));
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
    showReply(data.text ? data : { text: S.offline, ephemeral: true });
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
bubble("bot", S.bot).appendChild(el("p", "text", S.welcome));
input.focus();

/*! ragchat chat widget. Embed with one tag:
 *
 *   <script src="https://HOST/widget.js" data-kb="notes" data-token="rcw_..."></script>
 *
 * data-kb      knowledge base to chat with (default "default")
 * data-token   widget token (needed when the server has an admin key, or for another origin)
 * data-api     server base URL (default: where this script came from)
 * data-lang    "en" or "zh" (default: the page's <html lang>)
 * data-mount   "none" to only define <ragchat-widget kb=".." token=".." api=".." lang="..">, not add one
 *              (none is added either when the page already has one)
 *
 * Plain modern JavaScript, no build step. Everything renders in a Shadow DOM, so the page's styles do not
 * reach in. Text from answers and documents only ever becomes DOM text nodes (never HTML).
 */
(() => {
  "use strict";
  if (window.customElements === undefined || customElements.get("ragchat-widget")) return;

  const script = document.currentScript;
  const scriptData = (script && script.dataset) || {};
  const scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  const STRINGS = {
    en: {
      open: "Open chat",
      close: "Close chat",
      title: "Ask the knowledge base",
      newChat: "New conversation",
      inputLabel: "Your question",
      placeholder: "Ask a question…",
      hint: "Enter to send, Shift+Enter for a new line",
      send: "Send",
      stop: "Stop",
      retry: "Retry",
      you: "You",
      assistant: "Assistant",
      empty: (kb) => `Ask anything about the documents in “${kb}”. Answers quote them, with numbered sources.`,
      searching: "Searching the documents…",
      sources: "Sources",
      source: (n) => `Source ${n}`,
      page: (p, q) => (q && q !== p ? `pp. ${p}–${q}` : `p. ${p}`),
      noAnswer: "No answer in the knowledge base",
      understood: "Searched for:",
      stopped: "Stopped.",
      errors: {
        0: "Could not reach the chat server (or this site is not allowed to use it).",
        401: "This widget's token is not valid.",
        403: "This site is not allowed to use this knowledge base.",
        404: "Knowledge base not found.",
        422: "The question was not accepted.",
        429: (s) => `Too many questions: try again in ${s} s.`,
        503: "The knowledge base is not ready (no documents yet?).",
        other: "Something went wrong.",
      },
    },
    zh: {
      open: "打开聊天",
      close: "关闭聊天",
      title: "知识库问答",
      newChat: "新对话",
      inputLabel: "你的问题",
      placeholder: "输入问题…",
      hint: "Enter 发送，Shift+Enter 换行",
      send: "发送",
      stop: "停止",
      retry: "重试",
      you: "你",
      assistant: "助手",
      empty: (kb) => `可以就知识库“${kb}”中的文档提问，回答会引用原文并标注来源编号。`,
      searching: "正在检索文档…",
      sources: "来源",
      source: (n) => `来源 ${n}`,
      page: (p, q) => (q && q !== p ? `第 ${p}–${q} 页` : `第 ${p} 页`),
      noAnswer: "知识库中没有找到答案",
      understood: "检索内容：",
      stopped: "已停止。",
      errors: {
        0: "无法连接聊天服务器（或此网站无权使用它）。",
        401: "此聊天组件的令牌无效。",
        403: "此网站无权使用该知识库。",
        404: "找不到该知识库。",
        422: "问题未被接受。",
        429: (s) => `提问太频繁，请 ${s} 秒后再试。`,
        503: "知识库尚未就绪（还没有文档？）。",
        other: "出错了。",
      },
    },
  };

  const STYLE = `
/* !important: in a shadow root it beats even the page's !important rules for the host element, so nothing
   the page sets on it (a "* { color: red !important }") is inherited in here. Custom properties pass. */
:host { all: initial !important; display: block !important; position: fixed !important;
  right: var(--ragchat-right, 20px) !important; bottom: var(--ragchat-bottom, 20px) !important;
  z-index: var(--ragchat-z-index, 2147483000) !important;
  --accent: var(--ragchat-accent, #2563eb); --soft: var(--ragchat-accent-soft, #dbeafe); }
.launcher, .panel { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "PingFang SC", "Microsoft YaHei",
  sans-serif; color: #1f2937; text-align: left; letter-spacing: normal; word-spacing: normal; text-transform: none;
  text-indent: 0; white-space: normal; visibility: visible; direction: ltr; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; border: 0; padding: 0; }
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; background: var(--accent); color: #fff;
  display: grid; place-items: center; box-shadow: 0 6px 20px rgba(0,0,0,.25); }
.launcher svg { width: 26px; height: 26px; }
.panel { position: fixed; right: 20px; bottom: 88px; width: 390px; height: min(620px, calc(100vh - 110px));
  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0,0,0,.28); border: 1px solid #e5e7eb; }
header { display: flex; align-items: center; gap: 6px; padding: 10px 12px; background: var(--accent); color: #fff; }
header h2 { flex: 1; margin: 0; font-size: 15px; font-weight: 600; }
header button { border: 0; background: transparent; color: #fff; width: 32px; height: 32px; border-radius: 8px;
  display: grid; place-items: center; }
header button:hover { background: rgba(255,255,255,.18); }
header svg { width: 18px; height: 18px; }
.messages { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px;
  overscroll-behavior: contain; }
.empty { color: #6b7280; margin: auto 8px; text-align: center; }
.msg { max-width: 92%; padding: 8px 12px; overflow-wrap: anywhere; }
.msg.user { align-self: flex-end; background: var(--accent); color: #fff; border-radius: 14px 14px 4px 14px;
  white-space: pre-wrap; max-width: 85%; }
.msg.bot { align-self: flex-start; background: #f3f4f6; border-radius: 14px 14px 14px 4px; }
.msg.bot.refused { background: #fff7ed; border: 1px solid #fdba74; }
.refusal-label { display: flex; align-items: center; gap: 6px; font-weight: 600; color: #9a3412; margin-bottom: 2px; }
.status { color: #6b7280; font-style: italic; }
.answer > :first-child { margin-top: 0; }
.answer > :last-child { margin-bottom: 0; }
.answer p, .answer ul, .answer ol, .answer pre { margin: 0 0 8px; }
.answer ul, .answer ol { padding-left: 20px; }
.answer code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  background: #e5e7eb; border-radius: 4px; padding: 0 3px; }
.answer pre { background: #111827; color: #f9fafb; border-radius: 8px; padding: 8px 10px; overflow-x: auto; }
.answer pre code { background: none; padding: 0; color: inherit; }
.cite { border: 0; background: var(--soft); color: var(--accent); font-size: 11px; font-weight: 700;
  padding: 0 5px; margin: 0 1px; border-radius: 8px; vertical-align: super; line-height: 1.3; }
.cite:hover { background: var(--accent); color: #fff; }
.understood { color: #6b7280; font-size: 12px; margin: 6px 0 0; }
.sources { margin-top: 8px; border-top: 1px solid #e5e7eb; padding-top: 4px; }
.sources h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #6b7280; margin: 2px 0; }
.sources ol { list-style: none; margin: 0; padding: 0; }
.sources details { padding: 3px 0; }
.sources summary { cursor: pointer; display: flex; gap: 6px; align-items: baseline; }
.sources summary::-webkit-details-marker { display: none; }
.sources summary::before { content: "▸"; color: #6b7280; }
.sources details[open] summary::before { content: "▾"; }
.num { font-weight: 700; color: var(--accent); }
.doc { font-weight: 600; overflow-wrap: anywhere; }
.page { color: #6b7280; white-space: nowrap; }
.heading { color: #4b5563; font-size: 12px; margin: 4px 0 0 14px; }
.snippet { margin: 4px 0 4px 14px; padding: 6px 8px; background: #fff; border-left: 3px solid var(--accent);
  border-radius: 0 6px 6px 0; white-space: pre-wrap; }
.error { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; color: #b91c1c; margin-top: 4px; }
.error small { flex-basis: 100%; color: #6b7280; }
.retry { border: 1px solid #b91c1c; background: #fff; color: #b91c1c; border-radius: 8px; padding: 2px 10px; }
.note { color: #6b7280; font-style: italic; margin: 4px 0 0; }
form { display: flex; gap: 8px; align-items: flex-end; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; }
textarea { flex: 1; resize: none; font: inherit; color: inherit; padding: 8px 10px; border: 1px solid #d1d5db;
  border-radius: 10px; min-height: 40px; max-height: 120px; background: #fff; }
.send, .stop { border: 0; border-radius: 10px; padding: 0 14px; height: 40px; font-weight: 600; }
.send { background: var(--accent); color: #fff; }
.send:disabled { opacity: .5; cursor: default; }
.stop { background: #fee2e2; color: #b91c1c; }
@media (max-width: 480px) {
  :host { right: 14px !important; bottom: 14px !important; }
  .panel { inset: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; border: 0; }
  .msg { max-width: 96%; }
}
@media (prefers-reduced-motion: no-preference) { .panel { animation: pop .14s ease-out; } }
@keyframes pop { from { opacity: 0; transform: translateY(8px); } to { opacity: 1; transform: none; } }
`;

  const ICON = {
    chat: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">' +
      '<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/></svg>',
    close: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" aria-hidden="true">' +
      '<path d="M6 6l12 12M18 6L6 18"/></svg>',
    reset: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">' +
      '<path d="M3 12a9 9 0 1 0 3-6.7L3 8"/><path d="M3 3v5h5"/></svg>',
  };

  // The constant shell of the widget. Nothing from answers, documents or attributes is ever put in HTML.
  const SHELL = `
<style>${STYLE}</style>
<button class="launcher" type="button" aria-expanded="false" aria-controls="panel">${ICON.chat}</button>
<section class="panel" id="panel" role="dialog" aria-modal="false" aria-labelledby="title" hidden>
  <header>
    <h2 id="title"></h2>
    <button class="reset" type="button">${ICON.reset}</button>
    <button class="close" type="button">${ICON.close}</button>
  </header>
  <div class="messages" role="log" aria-live="polite"><p class="empty"></p></div>
  <form novalidate>
    <label class="sr-only" for="question"></label>
    <textarea id="question" rows="1" aria-describedby="hint" autocomplete="off"></textarea>
    <span class="sr-only" id="hint"></span>
    <button class="send" type="submit"></button>
    <button class="stop" type="button" hidden></button>
  </form>
</section>`;

  // -- safe Markdown: a small subset, built as DOM nodes from text ------------------------------------------
  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const INLINE = /`([^`\n]+)`|\*\*(?=\S)([^\n]*?\S)\*\*|\[(\d{1,3})\]/g;
  const LIST_ITEM = /^\s*(?:([-*+])|(\d{1,3})[.)])\s+(.*)$/;

  /** Text with `code`, **bold** and [n] citation markers (``cite(n)`` makes the marker's node). */
  function renderInline(text, parent, cite) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1] !== undefined) parent.append(h("code", "", m[1]));
      else if (m[2] !== undefined) {
        const strong = h("strong");
        renderInline(m[2], strong, cite);
        parent.append(strong);
      } else parent.append(cite(Number(m[3])) || m[0]);
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  /** Paragraphs, headings (as bold lines), lists and code fences. Returns a DocumentFragment. */
  function renderMarkdown(text, cite) {
    const out = document.createDocumentFragment();
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [];
    const flush = () => {
      if (!paragraph.length) return;
      const p = h("p");
      paragraph.forEach((line, i) => {
        if (i) p.append(h("br"));
        renderInline(line, p, cite);
      });
      out.append(p);
      paragraph = [];
    };
    for (let i = 0; i < lines.length; ) {
      const line = lines[i];
      const fence = line.match(/^\s*(```|~~~)/);
      if (fence) {
        flush();
        const body = [];
        for (i += 1; i < lines.length && !lines[i].trim().startsWith(fence[1]); i += 1) body.push(lines[i]);
        i += 1;
        const pre = h("pre");
        pre.append(h("code", "", body.join("\n")));
        out.append(pre);
        continue;
      }
      const item = line.match(LIST_ITEM);
      if (item) {
        flush();
        const ordered = item[1] === undefined;
        const list = h(ordered ? "ol" : "ul");
        if (ordered && item[2] !== "1") list.start = Number(item[2]);
        for (let m = item; m && (m[1] === undefined) === ordered; m = (lines[i] || "").match(LIST_ITEM)) {
          const li = h("li");
          renderInline(m[3], li, cite);
          list.append(li);
          i += 1;
        }
        out.append(list);
        continue;
      }
      const heading = line.match(/^\s*#{1,6}\s+(.*)$/);
      if (heading) {
        flush();
        const p = h("p");
        const strong = h("strong");
        renderInline(heading[1], strong, cite);
        p.append(strong);
        out.append(p);
      } else if (!line.trim()) flush();
      else paragraph.push(line);
      i += 1;
    }
    flush();
    return out;
  }

  // -- Server-Sent Events over fetch (EventSource cannot POST or send a token) -----------------------------
  async function* readEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          if (colon === 0) continue; // a comment
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  class ChatError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail || `HTTP ${status}`);
      this.status = status;
      this.detail = detail || "";
      this.retryAfter = retryAfter;
    }
  }

  async function httpError(response) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch (_) {
      /* not JSON */
    }
    return new ChatError(response.status, String(detail), Number(response.headers.get("Retry-After")) || 0);
  }

  // -- one answer in the conversation ----------------------------------------------------------------------
  let turnCount = 0;

  class Turn {
    constructor(widget, question) {
      this.widget = widget;
      this.question = question;
      this.id = `t${(turnCount += 1)}`;
      this.node = h("article", "msg bot");
      this.node.setAttribute("aria-label", widget.t.assistant);
      this.reset();
    }

    reset() {
      this.text = "";
      this.sources = new Map();
      this.refused = false;
      this.node.className = "msg bot";
      this.node.dataset.state = "waiting";
      this.node.setAttribute("aria-busy", "true");
      this.node.replaceChildren(h("div", "status", this.widget.t.searching));
      this.answer = h("div", "answer");
    }

    onSources(data) {
      for (const s of data.sources || []) this.sources.set(s.n, s);
      this.refused = Boolean(data.refused);
      this.node.dataset.state = "streaming";
      this.node.replaceChildren();
      if (this.refused) {
        this.node.classList.add("refused");
        const label = h("div", "refusal-label");
        label.append(h("span", "", "⚠"), h("span", "", this.widget.t.noAnswer));
        label.firstChild.setAttribute("aria-hidden", "true");
        this.node.append(label);
      }
      this.node.append(this.answer);
      this.understood(data.question, data.standalone_question);
    }

    understood(question, standalone) {
      const norm = (s) => String(s || "").trim().toLowerCase();
      if (!standalone || norm(standalone) === norm(question)) return;
      const p = h("p", "understood", `${this.widget.t.understood} ${standalone}`);
      this.node.append(p);
    }

    onToken(piece) {
      this.text += piece;
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }

    render() {
      this.answer.replaceChildren(renderMarkdown(this.text, (n) => this.marker(n)));
      this.widget.scrollDown();
    }

    marker(n) {
      if (this.refused || !this.sources.has(n)) return null;
      const button = h("button", "cite", String(n));
      button.type = "button";
      button.dataset.n = String(n);
      button.setAttribute("aria-label", `${this.widget.t.source(n)}: ${this.sources.get(n).doc_name}`);
      button.addEventListener("click", () => this.openSource(n));
      return button;
    }

    openSource(n) {
      const details = this.node.querySelector(`details[data-n="${n}"]`);
      if (!details) return;
      details.open = true;
      const summary = details.querySelector("summary");
      summary.focus();
      summary.scrollIntoView({ block: "nearest" });
    }

    onDone(data) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.text = data.answer;
      this.refused = Boolean(data.refused);
      for (const c of data.citations || []) this.sources.set(c.n, c);
      this.render();
      if (!this.refused && data.citations && data.citations.length) this.node.append(this.citations(data.citations));
      this.finish("done");
    }

    citations(citations) {
      const t = this.widget.t;
      const section = h("section", "sources");
      section.setAttribute("aria-label", t.sources);
      section.append(h("h3", "", t.sources));
      const list = h("ol");
      for (const c of citations) {
        const details = h("details");
        details.dataset.n = String(c.n);
        details.addEventListener("toggle", () => details.open && details.scrollIntoView({ block: "nearest" }));
        const summary = h("summary");
        summary.append(h("span", "num", `[${c.n}]`), h("span", "doc", c.doc_name));
        if (c.page !== null && c.page !== undefined) summary.append(h("span", "page", t.page(c.page, c.page_end)));
        details.append(summary);
        if (c.heading) details.append(h("div", "heading", c.heading.split(" > ").join(" › ")));
        details.append(h("blockquote", "snippet", c.snippet));
        const li = h("li");
        li.append(details);
        list.append(li);
      }
      section.append(list);
      return section;
    }

    onStopped() {
      cancelAnimationFrame(this.frame);
      if (this.node.dataset.state === "waiting") this.node.replaceChildren(this.answer);
      this.render();
      this.node.append(h("p", "note", this.widget.t.stopped));
      this.finish("stopped");
    }

    onError(error) {
      cancelAnimationFrame(this.frame);
      const t = this.widget.t;
      const status = error instanceof ChatError ? error.status : 0;
      let message = t.errors[status] || t.errors.other;
      if (typeof message === "function") message = message(error.retryAfter || 60);
      const box = h("div", "error");
      box.setAttribute("role", "alert");
      box.append(h("span", "", message));
      const retry = h("button", "retry", t.retry);
      retry.type = "button";
      retry.addEventListener("click", () => this.widget.retry(this));
      box.append(retry);
      if (error instanceof ChatError && error.detail) box.append(h("small", "", error.detail));
      if (this.node.dataset.state === "waiting") this.node.replaceChildren();
      this.node.append(box);
      this.finish("error");
    }

    finish(state) {
      this.node.dataset.state = state;
      this.node.setAttribute("aria-busy", "false");
      this.widget.scrollDown();
    }
  }

  // -- the element ------------------------------------------------------------------------------------------
  class RagchatWidget extends HTMLElement {
    static get observedAttributes() {
      return ["kb", "token", "api", "lang"];
    }

    constructor() {
      super();
      const root = this.attachShadow({ mode: "open" });
      const shell = document.createElement("template");
      shell.innerHTML = SHELL; // constant markup only
      root.append(shell.content.cloneNode(true));
      const $ = (selector) => root.querySelector(selector);
      this.ui = {
        launcher: $(".launcher"), panel: $(".panel"), title: $("#title"), reset: $(".reset"), close: $(".close"),
        messages: $(".messages"), empty: $(".empty"), form: $("form"), label: $("label"), input: $("textarea"),
        hint: $("#hint"), send: $(".send"), stop: $(".stop"),
      };
      this.sessionId = null;
      this.controller = null;
      this.bind();
    }

    connectedCallback() {
      this.applyStrings();
      this.langObserver = new MutationObserver(() => this.applyStrings());
      this.langObserver.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    }

    disconnectedCallback() {
      if (this.langObserver) this.langObserver.disconnect();
      this.stop();
    }

    attributeChangedCallback(name, before, after) {
      if (before === after) return;
      if (name === "lang") this.applyStrings();
      else this.newConversation();
    }

    get kb() {
      return this.getAttribute("kb") || "default";
    }

    get api() {
      return (this.getAttribute("api") || scriptOrigin).replace(/\/+$/, "");
    }

    get lang() {
      const lang = this.getAttribute("lang") || document.documentElement.lang || navigator.language || "en";
      return lang.toLowerCase().startsWith("zh") ? "zh" : "en";
    }

    get t() {
      return STRINGS[this.lang];
    }

    get isOpen() {
      return !this.ui.panel.hidden;
    }

    bind() {
      const ui = this.ui;
      ui.launcher.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));
      ui.close.addEventListener("click", () => this.close());
      ui.reset.addEventListener("click", () => {
        this.newConversation();
        ui.input.focus();
      });
      ui.stop.addEventListener("click", () => this.stop());
      ui.form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.submit();
      });
      ui.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submit();
        }
      });
      ui.input.addEventListener("input", () => this.fitInput());
      this.shadowRoot.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && this.isOpen) {
          event.stopPropagation();
          this.close();
        }
      });
    }

    applyStrings() {
      const t = this.t;
      const ui = this.ui;
      ui.launcher.setAttribute("aria-label", this.isOpen ? t.close : t.open);
      ui.title.textContent = t.title;
      ui.reset.setAttribute("aria-label", t.newChat);
      ui.reset.title = t.newChat;
      ui.close.setAttribute("aria-label", t.close);
      ui.close.title = t.close;
      ui.empty.textContent = t.empty(this.kb);
      ui.label.textContent = t.inputLabel;
      ui.input.placeholder = t.placeholder;
      ui.hint.textContent = t.hint;
      ui.send.textContent = t.send;
      ui.stop.textContent = t.stop;
    }

    open() {
      this.ui.panel.hidden = false;
      this.ui.launcher.setAttribute("aria-expanded", "true");
      this.ui.launcher.setAttribute("aria-label", this.t.close);
      this.ui.input.focus();
      this.scrollDown(true);
    }

    close() {
      this.ui.panel.hidden = true;
      this.ui.launcher.setAttribute("aria-expanded", "false");
      this.ui.launcher.setAttribute("aria-label", this.t.open);
      this.ui.launcher.focus();
    }

    newConversation() {
      this.stop();
      this.sessionId = null;
      this.ui.messages.replaceChildren(this.ui.empty);
      this.ui.empty.textContent = this.t.empty(this.kb);
    }

    fitInput() {
      const input = this.ui.input;
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight + 2, 120)}px`;
    }

    scrollDown(force) {
      const box = this.ui.messages;
      if (force || box.scrollHeight - box.scrollTop - box.clientHeight < 120) box.scrollTop = box.scrollHeight;
    }

    setBusy(busy) {
      this.ui.send.hidden = busy;
      this.ui.stop.hidden = !busy;
      if (!busy && this.shadowRoot.activeElement === this.ui.stop) this.ui.input.focus();
    }

    submit() {
      const question = this.ui.input.value.trim();
      if (!question || this.controller) return;
      this.ui.input.value = "";
      this.fitInput();
      this.ask(question);
    }

    /** Ask ``question`` in the current conversation (also callable from the page). */
    ask(question) {
      this.ui.empty.remove();
      const mine = h("div", "msg user");
      mine.append(h("span", "sr-only", `${this.t.you}: `), question);
      const turn = new Turn(this, question);
      this.ui.messages.append(mine, turn.node);
      this.scrollDown(true);
      return this.stream(turn);
    }

    retry(turn) {
      if (this.controller) return;
      turn.reset();
      this.ui.input.focus();
      this.stream(turn);
    }

    stop() {
      if (this.controller) this.controller.abort();
    }

    async stream(turn) {
      const controller = new AbortController();
      this.controller = controller;
      this.setBusy(true);
      const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
      const token = this.getAttribute("token");
      if (token) headers.Authorization = `Bearer ${token}`;
      const body = { question: turn.question };
      if (this.sessionId) body.session_id = this.sessionId;
      try {
        const response = await fetch(`${this.api}/kbs/${encodeURIComponent(this.kb)}/chat/stream`, {
          method: "POST", headers, body: JSON.stringify(body), signal: controller.signal, credentials: "omit",
        });
        if (!response.ok) throw await httpError(response);
        let done = false;
        for await (const { event, data } of readEvents(response.body)) {
          if (event === "sources") {
            if (data.session_id) this.sessionId = data.session_id;
            turn.onSources(data);
          } else if (event === "token") turn.onToken(data.text);
          else if (event === "done") {
            turn.onDone(data);
            done = true;
          } else if (event === "error") throw new ChatError(data.status, data.detail);
        }
        if (!done) throw new ChatError(0, "the answer stream ended early");
      } catch (error) {
        if (controller.signal.aborted) turn.onStopped();
        else turn.onError(error);
      } finally {
        if (this.controller === controller) this.controller = null;
        this.setBusy(Boolean(this.controller));
      }
    }
  }

  customElements.define("ragchat-widget", RagchatWidget);

  if (script && scriptData.mount !== "none") {
    const mount = () => {
      if (document.querySelector("ragchat-widget")) return; // the page placed its own
      const widget = document.createElement("ragchat-widget");
      for (const name of ["kb", "token", "api", "lang"]) if (scriptData[name]) widget.setAttribute(name, scriptData[name]);
      if (!scriptData.api) widget.setAttribute("api", scriptOrigin);
      document.body.append(widget);
    };
    if (document.body) mount();
    else document.addEventListener("DOMContentLoaded", mount, { once: true });
  }
})();

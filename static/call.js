// One call: transcript (partials as they form), timeline, latency, supervisor controls, listen-in.
// Event data goes into the page as text (textContent), never as HTML.
(function () {
  const root = document.getElementById("call");
  const callId = root.dataset.call;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const transcript = document.getElementById("transcript");
  const partial = document.getElementById("partial");
  const timeline = document.getElementById("timeline");
  const latency = document.getElementById("latency");

  // A detail as text people read, the same way the server renders it (app/dashboard/timeline.py readable).
  function value(key, v) {
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return `[${v.map((item) => value(key, item)).join("; ")}]`;
    if (v !== null && typeof v === "object") return `(${readable(v)})`;
    if (key.endsWith("_at") && typeof v === "number" && v > 1e9) {
      return new Date(v * 1000).toISOString().slice(11, 23);
    }
    return JSON.stringify(v);
  }
  function readable(detail) {
    if (detail === null || typeof detail !== "object" || Array.isArray(detail)) return value("", detail);
    return Object.entries(detail).map(([k, v]) => `${k}: ${value(k, v)}`).join(", ");
  }

  const addLine = (speaker, text) => window.transcriptLine(transcript, speaker, text);

  // What a command's result means, in words (the result itself is in the status line's tooltip).
  const DONE = {
    pause: () => "paused: the caller hears nothing and is not heard until Resume",
    resume: () => "resumed",
    break: (r) => `cut: the bot stopped talking${(r.cuts || []).length ? "" : " (it was not talking)"}`,
    stop: () => "stream stopped: the bot has left; the call goes on on the platform",
    hangup: () => "hung up: the call is ending",
    say: () => "queued: the bot says it next",
    play: (r) => (r.mode === "pcmo" ? "sent to the platform to play" : "queued: playing through the bot next"),
    transfer: (r) => `ringing ${(r.numbers || []).join(", ") || "a person"}`,
  };
  async function act(body) {
    status.textContent = `${body.action}…`;
    status.title = "";
    const response = await fetch(`/dashboard/api/calls/${callId}/actions`, {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)});
    const answer = await response.json();
    const words = DONE[body.action] ? DONE[body.action](answer.result || {}) : "done";
    status.textContent = response.ok ? `${body.action}: ${words}` : `${body.action} failed: ${answer.message}`;
    status.title = JSON.stringify(response.ok ? answer.result : answer);
    status.className = response.ok ? "muted" : "error";
  }

  document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.confirm && !window.confirm(`${b.textContent}: ${b.dataset.confirm}`)) return;
    act({action: b.dataset.action});
  }));
  document.querySelectorAll("form[data-action]").forEach((form) => form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {action: form.dataset.action};
    new FormData(form).forEach((value, key) => {
      const input = form.elements[key];
      if (typeof value === "string" && !value.trim()) return;  // empty: the command's default
      if (input && input.dataset.kind === "numbers") body[key] = value.split(",").map((n) => n.trim()).filter(Boolean);
      else if (input && input.type === "number") body[key] = Number(value);
      else body[key] = value;
    });
    act(body);
  }));

  const events = new EventSource(`/dashboard/events?call=${callId}`);
  events.addEventListener("transcript", (e) => { const ev = JSON.parse(e.data); partial.textContent = ""; addLine(ev.speaker, ev.text); });
  events.addEventListener("transcript.partial", (e) => { partial.textContent = JSON.parse(e.data).text; });
  events.addEventListener("state", (e) => {
    const ev = JSON.parse(e.data);
    const badge = document.getElementById("state");
    badge.textContent = ev.state === "handed_off" ? "transferred" : ev.state;  // as the server's |badge
    badge.className = `state ${ev.state}`; badge.dataset.state = ev.state; badge.title = `state: ${ev.state}`;
    if (ev.state === "ended" || ev.state === "failed") {
      document.getElementById("controls-card").hidden = true;
      const ring = document.getElementById("ring");
      if (ring && /ringing|on hold/.test(ring.textContent)) showRing("the call ended before the platform said how the transfer went");
    }
    if (ev.state === "handed_off") showRing("ringing…");
  });

  // The warm-transfer brief and how the ring goes, live while the person's phone rings (as text, never HTML).
  const RING = {"handoff.answered": "answered: a person has the call", "handoff.unanswered": "nobody answered",
    "handoff.retry": "the caller asked to try again", "handoff.declined": "no retry: the caller is leaving"};
  function showBrief(context) {
    let card = document.getElementById("brief");
    if (!card) {
      card = document.createElement("div");
      card.className = "brief"; card.id = "brief";
      document.getElementById("lanes").closest(".card").appendChild(card);
    }
    const title = document.createElement("h2"); title.textContent = "For the person taking the call";
    const summary = document.createElement("p"); summary.textContent = context.summary || "";
    const meta = document.createElement("p"); meta.className = "muted";
    meta.textContent = `intents: ${(context.intents || []).join(", ") || "none"} · to ${(context.numbers || []).join(", ")}`;
    const ring = document.getElementById("ring") || document.createElement("p");
    ring.id = "ring"; ring.textContent = ring.textContent || "transfer: on hold";
    card.replaceChildren(title, summary, meta, ring);
  }
  function showRing(text) {
    const ring = document.getElementById("ring");
    if (ring) ring.textContent = `transfer: ${text}`;
  }
  events.addEventListener("timeline", (e) => {
    const ev = JSON.parse(e.data);
    const li = document.createElement("li");
    const at = document.createElement("span");
    at.className = "muted at";
    at.textContent = new Date(ev.at * 1000).toISOString().slice(11, 19);
    const what = document.createElement("span");
    what.className = "what"; what.title = ev.kind; what.textContent = ev.sentence || ev.kind;
    li.append(at, " ", what);
    if (ev.detail && Object.keys(ev.detail).length) {
      const details = document.createElement("details");
      const summary = document.createElement("summary"); summary.textContent = "details";
      const code = document.createElement("code"); code.textContent = readable(ev.detail);
      details.append(summary, code);
      li.append(" ", details);
    }
    const empty = document.getElementById("no-events");
    if (empty) empty.remove();
    timeline.appendChild(li);
    refreshLanes();
    if (ev.kind === "handoff.brief") showBrief(ev.detail.context || {});
    if (RING[ev.kind]) showRing(RING[ev.kind] + (ev.detail.by === "timer" ? " (no word from the platform)" : ""));
    if (ev.kind === "reply") {
      if (!latency.querySelector("code")) latency.textContent = "";
      const c = document.createElement("code"); c.textContent = `${Math.round(ev.detail.latency_ms)} ms`;
      latency.append(c, " ");
    }
  });

  // The timeline picture: clicking a caller turn (or its button) plays the recording from there.
  const lanes = document.getElementById("lanes");
  const recording = document.getElementById("recording");
  document.addEventListener("click", (e) => {
    const target = e.target.closest("[data-seek]");
    if (!target || !recording) return;
    recording.currentTime = parseFloat(target.dataset.seek);
    recording.play().catch(() => {});  // a browser may refuse to autoplay; the position is set anyway
  });
  let refreshing = null;
  function refreshLanes() {  // at most every 2 s while events arrive; the SVG is parsed, never injected as HTML
    if (refreshing || !lanes) return;
    refreshing = setTimeout(async () => {
      refreshing = null;
      const response = await fetch(lanes.dataset.src, {headers: {"Accept": "image/svg+xml"}});
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
      lanes.replaceChildren(document.importNode(doc.documentElement, true));
    }, 2000);
  }

  // Listen-in: both legs, each on its own playback clock in the page.
  let listening = null;
  document.getElementById("listen").addEventListener("click", () => {
    if (listening) { listening.close(); listening = null; document.getElementById("listen").textContent = "Listen in"; return; }
    const ctx = new AudioContext();
    const next = {c: 0, b: 0};
    let rate = 8000;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/dashboard/calls/${callId}/listen`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => {
      if (typeof m.data === "string") { rate = JSON.parse(m.data).rate || rate; return; }
      const bytes = new Uint8Array(m.data);
      const leg = String.fromCharCode(bytes[0]);
      const pcm = new Int16Array(m.data.slice(1));
      const buffer = ctx.createBuffer(1, pcm.length, rate);
      const data = buffer.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
      const source = ctx.createBufferSource();
      source.buffer = buffer; source.connect(ctx.destination);
      const at = Math.max(ctx.currentTime + 0.1, next[leg]);
      source.start(at); next[leg] = at + buffer.duration;
    };
    ws.onclose = () => { status.textContent = "listen-in closed"; };
    listening = ws;
    document.getElementById("listen").textContent = "Stop listening";
  });
})();

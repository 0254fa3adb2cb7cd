// Live calls: rows appear, change state and show the last line said, pushed by Server-Sent Events.
// Everything in an event (caller numbers, agent names) is data from outside: it goes into the page
// as text nodes (textContent), never as HTML.
(function () {
  const live = document.getElementById("live");
  const count = document.getElementById("live-count");
  const word = (code) => ({handed_off: "transferred", browser: "softphone"})[code] || code;  // as the server's |badge
  const fmt = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

  function row(id) {
    return [...live.querySelectorAll("tr[data-call]")].find((tr) => tr.dataset.call === id) || null;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.entries(attrs || {}).forEach(([k, v]) => { node[k] = v; });
    return node;
  }

  function addRow(ev) {
    const id = String(ev.call_id);
    if (row(id)) return;
    const tr = document.createElement("tr");
    tr.dataset.call = id;
    tr.dataset.created = ev.created_at;
    const link = el("a", null, {href: `/dashboard/calls/${encodeURIComponent(id)}`});
    link.appendChild(el("code", id.slice(0, 8)));
    const badge = el("span", word(ev.state), {className: `state ${ev.state}`, title: `state: ${ev.state}`});
    badge.dataset.field = "state"; badge.dataset.state = ev.state;
    const direction = word(ev.direction || "");
    const cells = [link, direction, ev.from_number || "", ev.to_number || "", ev.agent || "", badge];
    cells.forEach((content) => {
      const td = document.createElement("td");
      if (content instanceof Node) td.appendChild(content); else td.textContent = String(content);
      tr.appendChild(td);
    });
    const duration = document.createElement("td");
    duration.dataset.field = "duration";
    const last = document.createElement("td");
    last.dataset.field = "last";
    tr.append(duration, last);
    live.appendChild(tr);
    counted();
  }
  function counted() {  // the count, and the "no live calls" row when there are none
    const n = live.querySelectorAll("tr[data-call]").length;
    count.textContent = n;
    const empty = document.getElementById("no-live");
    if (empty) empty.hidden = n > 0;
  }

  const events = new EventSource("/dashboard/events");
  events.addEventListener("call", (e) => addRow(JSON.parse(e.data)));
  events.addEventListener("state", (e) => {
    const ev = JSON.parse(e.data);
    const tr = row(ev.call_id);
    if (!tr) return;
    const badge = tr.querySelector('[data-field="state"]');
    badge.textContent = word(ev.state);
    badge.className = `state ${ev.state}`; badge.dataset.state = ev.state; badge.title = `state: ${ev.state}`;
    if (ev.state === "ended" || ev.state === "failed") {
      tr.querySelector('[data-field="duration"]').dataset.ended = ev.at;
      setTimeout(() => { tr.remove(); counted(); }, 5000);
    }
  });
  events.addEventListener("transcript", (e) => {
    const ev = JSON.parse(e.data);
    const tr = row(ev.call_id);
    if (tr) tr.querySelector('[data-field="last"]').textContent = `${ev.speaker}: ${ev.text}`;
  });

  const chart = document.getElementById("hour-chart");
  if (chart) setInterval(() => { chart.src = chart.src.split("?")[0] + `?t=${Date.now()}`; }, 20000);

  setInterval(() => {
    const now = Date.now() / 1000;
    document.querySelectorAll("tr[data-call]").forEach((tr) => {
      const cell = tr.querySelector('[data-field="duration"]');
      const end = parseFloat(cell.dataset.ended) || now;
      cell.textContent = fmt(Math.max(0, end - parseFloat(tr.dataset.created)));
    });
  }, 1000);
})();

// Live calls: rows appear, change state and show the last line said, pushed by Server-Sent Events.
(function () {
  const live = document.getElementById("live");
  const count = document.getElementById("live-count");
  const fmt = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

  function row(id) { return document.querySelector(`#live tr[data-call="${id}"]`); }

  function addRow(ev) {
    if (row(ev.call_id)) return;
    const tr = document.createElement("tr");
    tr.dataset.call = ev.call_id;
    tr.dataset.created = ev.created_at;
    const cells = [`<a href="/dashboard/calls/${ev.call_id}"><code>${ev.call_id.slice(0, 8)}</code></a>`,
      ev.direction || "", ev.from_number || "", ev.to_number || "", ev.agent || "",
      `<span class="state ${ev.state}" data-field="state">${ev.state}</span>`, "", ""];
    tr.innerHTML = cells.map((c, i) => `<td${i === 6 ? ' data-field="duration"' : i === 7 ? ' data-field="last"' : ""}>${c}</td>`).join("");
    live.appendChild(tr);
    count.textContent = live.querySelectorAll("tr[data-call]").length;
  }

  const events = new EventSource("/dashboard/events");
  events.addEventListener("call", (e) => addRow(JSON.parse(e.data)));
  events.addEventListener("state", (e) => {
    const ev = JSON.parse(e.data);
    const tr = row(ev.call_id);
    if (!tr) return;
    const badge = tr.querySelector('[data-field="state"]');
    badge.textContent = ev.state;
    badge.className = `state ${ev.state}`;
    if (ev.state === "ended" || ev.state === "failed") {
      tr.querySelector('[data-field="duration"]').dataset.ended = ev.at;
      setTimeout(() => { tr.remove(); count.textContent = live.querySelectorAll("tr[data-call]").length; }, 5000);
    }
  });
  events.addEventListener("transcript", (e) => {
    const ev = JSON.parse(e.data);
    const tr = row(ev.call_id);
    if (tr) tr.querySelector('[data-field="last"]').textContent = `${ev.speaker}: ${ev.text}`;
  });

  setInterval(() => {
    const now = Date.now() / 1000;
    document.querySelectorAll("tr[data-call]").forEach((tr) => {
      const cell = tr.querySelector('[data-field="duration"]');
      const end = parseFloat(cell.dataset.ended) || now;
      cell.textContent = fmt(Math.max(0, end - parseFloat(tr.dataset.created)));
    });
  }, 1000);
})();

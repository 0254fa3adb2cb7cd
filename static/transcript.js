// One transcript line, the same on the call page and the softphone: "<who> text", scrolled into view.
(() => {
  "use strict";
  // A caller turn heard but not understood arrives with no text: it says so, and a run of them is one line.
  window.transcriptLine = function (container, speaker, text) {
    const empty = container.querySelector(".muted:not(.line)");
    if (empty) empty.remove();
    if (speaker === "caller" && !(text || "").trim()) {
      const last = container.lastElementChild;
      if (last && last.classList.contains("missed")) {
        const n = Number(last.dataset.missed || 1) + 1;
        last.dataset.missed = n;
        last.lastChild.textContent = `(not understood, ${n === 2 ? "twice" : n + " times"})`;
        return;
      }
      text = "(not understood)";
      speaker = "caller missed";
    }
    const div = document.createElement("div");
    div.className = `line ${speaker}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = speaker.split(" ")[0];
    div.appendChild(who);
    div.appendChild(document.createTextNode(text));
    container.appendChild(div);
    container.scrollTop = container.scrollHeight;
  };
})();

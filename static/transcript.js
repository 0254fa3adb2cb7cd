// One transcript line, the same on the call page and the softphone: "<who> text", scrolled into view.
(() => {
  "use strict";
  window.transcriptLine = function (container, speaker, text) {
    const div = document.createElement("div");
    div.className = `line ${speaker}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = speaker;
    div.appendChild(who);
    div.appendChild(document.createTextNode(text));
    container.appendChild(div);
    container.scrollTop = container.scrollHeight;
  };
})();

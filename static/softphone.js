// The browser as a caller: microphone -> 8/16 kHz L16 20 ms frames -> the stream socket; streamAudio -> speakers.
(function () {
  const worklet = new URL("capture-worklet.js", document.currentScript.src).href;  // beside this file
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const transcript = document.getElementById("transcript");
  const partial = document.getElementById("partial");
  let ws = null, ctx = null, mic = null, processor = null, events = null;
  let playing = [], nextAt = 0, heard = 0;
  window.softphone = {state: "idle", framesSent: 0, audioMessages: 0, breaks: 0, pcmo: []};

  function say(text, cls) { status.textContent = text; status.className = cls || "muted"; status.title = ""; }
  // How the stream socket closed, in words (the code itself is in the status line's tooltip).
  const ENDED = {
    1000: "The call ended.", 1005: "The call ended.", 1001: "The service is restarting: the call ended.",
    1006: "The connection to the service dropped.", 1008: "The service refused the call (the link expired?).",
    1011: "The service hit an error and ended the call.", 1013: "The service is busy: try again in a moment.",
  };

  const line = (speaker, text) => window.transcriptLine(transcript, speaker, text);

  function play(b64, rate) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const pcm = new Int16Array(bytes.buffer);
    const buffer = ctx.createBuffer(1, pcm.length, rate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
    const source = ctx.createBufferSource();
    source.buffer = buffer; source.connect(ctx.destination);
    const at = Math.max(ctx.currentTime + 0.05, nextAt);
    source.start(at); nextAt = at + buffer.duration; heard += buffer.duration;
    playing.push(source);
    source.onended = () => { playing = playing.filter((s) => s !== source); };
  }

  function interrupt() {  // break: drop what is queued, as the platform does
    playing.forEach((s) => { try { s.stop(); } catch (e) { /* already done */ } });
    playing = []; nextAt = ctx.currentTime;
    window.softphone.breaks += 1;
  }

  function buttons(inCall) {  // one call at a time: Call is off from the first click until the call is over
    document.getElementById("dial").disabled = inCall;
    document.getElementById("hangup").disabled = !inCall;
  }

  async function dial() {
    buttons(true);
    say("Dialling…");
    const agent = document.getElementById("agent").value;
    let response, call;
    try {
      response = await fetch("/dashboard/api/softphone", {method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify({agent})});
      call = await response.json();
    } catch (err) { buttons(false); say(`Could not start the call: ${err.message}`, "error"); return; }
    if (!response.ok) { buttons(false); say(call.message, "error"); return; }
    const link = document.getElementById("call-link");
    link.href = `/dashboard/calls/${encodeURIComponent(call.call_id)}`; link.textContent = call.call_id.slice(0, 8);
    document.getElementById("call-line").hidden = false;
    window.softphone.callId = call.call_id;
    try {  // at the call's rate: the browser then resamples the microphone with its own filter
      ctx = new AudioContext({sampleRate: call.rate});
    } catch (err) { ctx = new AudioContext(); }  // a browser that refuses the rate: the worklet filters instead
    try {
      mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true}});
    } catch (err) { buttons(false); say(`No microphone: ${err.message}`, "error"); return; }
    events = new EventSource(`/dashboard/events?call=${call.call_id}`);
    events.addEventListener("transcript", (e) => { const ev = JSON.parse(e.data); partial.textContent = ""; line(ev.speaker, ev.text); });
    events.addEventListener("transcript.partial", (e) => { partial.textContent = JSON.parse(e.data).text; });

    ws = new WebSocket(call.ws_url);
    ws.binaryType = "arraybuffer";
    ws.onopen = async () => {
      say("Connected: speak.", "muted"); window.softphone.state = "live";
      const source = ctx.createMediaStreamSource(mic);
      try {  // capture off the main thread (static/capture-worklet.js): 20 ms L16 frames at the call's rate
        await ctx.audioWorklet.addModule(worklet);
      } catch (err) { say(`This browser cannot capture audio here: ${err.message}`, "error"); hangupLocal(); return; }
      processor = new AudioWorkletNode(ctx, "callstream-capture", {processorOptions: {targetRate: call.rate}});
      window.softphone.contextRate = ctx.sampleRate;
      processor.port.onmessage = (e) => {
        if (ws.readyState === WebSocket.OPEN) { ws.send(e.data); window.softphone.framesSent += 1; }
      };
      source.connect(processor); processor.connect(ctx.destination);  // pulled by the graph; its output is silence
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (Array.isArray(msg)) {
        window.softphone.pcmo.push(msg);
        msg.forEach((a) => {
          if (a.action === "bridge") say("The bot is handing you to a person (bridge); in the browser that ends here.", "muted");
          if (a.action === "hangup") say("The bot hung up.", "muted");
        });
      } else if (msg.type === "streamAudio") {
        window.softphone.audioMessages += 1; play(msg.data.audioData, msg.data.sampleRate);
      } else if (msg.action === "break") { interrupt(); }
    };
    ws.onclose = (e) => {
      hangupLocal();
      say(ENDED[e.code] || "The call ended.", e.code === 1000 || e.code === 1005 ? "muted" : "error");
      status.title = `WebSocket close code ${e.code}${e.reason ? ": " + e.reason : ""}`;
    };
  }

  function hangupLocal() {
    window.softphone.state = "ended";
    if (processor) processor.disconnect();
    if (mic) mic.getTracks().forEach((t) => t.stop());
    if (ws && ws.readyState === WebSocket.OPEN) ws.close();
    setTimeout(() => events && events.close(), 3000);
    buttons(false);
  }

  document.getElementById("dial").addEventListener("click", dial);
  document.getElementById("hangup").addEventListener("click", hangupLocal);
})();

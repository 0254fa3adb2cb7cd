// The softphone's microphone capture (an AudioWorklet, off the main thread): 20 ms L16 frames at the call's rate.
// The AudioContext is made at the call's rate when the browser allows it (it then resamples the microphone with
// its own filter); otherwise this low-passes (a windowed-sinc FIR, its state kept between blocks) below the
// call's Nyquist frequency before it takes every `ratio`-th sample, so nothing above 4 kHz folds into an 8 kHz call.
class Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const {targetRate} = options.processorOptions;
    this.ratio = sampleRate / targetRate;  // sampleRate: the context's, a global in the worklet scope
    this.size = Math.round(targetRate / 50);  // 20 ms
    this.frame = new Int16Array(this.size);
    this.filled = 0;
    this.pos = 0;  // where the next output sample is, in input samples from the start of the current block
    this.taps = this.ratio > 1 ? lowPass(0.45 / this.ratio, 63) : null;
    this.history = new Float32Array(this.taps ? this.taps.length : 0);  // the last inputs, newest last
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    if (!this.taps) {  // the context runs at the call's rate
      for (let i = 0; i < input.length; i++) this.push(input[i]);
      return true;
    }
    const taps = this.taps, n = taps.length, hist = this.history;
    for (let i = 0; i < input.length; i++) {
      hist.copyWithin(0, 1); hist[n - 1] = input[i];
      if (i >= this.pos) {  // an output sample is due: the filtered value here
        let acc = 0;
        for (let k = 0; k < n; k++) acc += taps[k] * hist[k];
        this.push(acc);
        this.pos += this.ratio;
      }
    }
    this.pos -= input.length;
    return true;
  }

  push(sample) {
    this.frame[this.filled++] = Math.max(-1, Math.min(1, sample)) * 32767;
    if (this.filled === this.size) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);  // transferred: this.frame is empty now
      this.frame = new Int16Array(this.size);
      this.filled = 0;
    }
  }
}

function lowPass(cutoff, count) {  // cutoff as a fraction of the input rate; Blackman-windowed sinc, unity gain
  const taps = new Float32Array(count), mid = (count - 1) / 2;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (count - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (count - 1));
    taps[i] = sinc * w; sum += taps[i];
  }
  for (let i = 0; i < count; i++) taps[i] /= sum;
  return taps;
}

registerProcessor("callstream-capture", Capture);

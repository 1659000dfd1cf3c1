// The drawing pad of /network: strokes on a canvas, read back as grid×grid ink levels in [0, 1] (the
// mean of each block's red channel), which the server turns into the model's input format.

/** A pad on ``canvas``: clear(), wire(onStroke), grid(), drawSeven(), and ``drawn`` once a stroke landed. */
export function createPad(canvas, grid) {
  const pen = canvas.getContext("2d", { willReadFrequently: true }); // read back on every stroke
  const self = { drawn: false, example: false }; // example: the seven the page opened with is showing

  function stroke(a, b) {
    pen.strokeStyle = "#fff";
    pen.lineWidth = canvas.width / 8;  // thick, like the dataset's strokes
    pen.lineCap = "round";
    pen.beginPath();
    pen.moveTo(...a);
    pen.lineTo(...b);
    pen.stroke();
    self.drawn = true;
  }

  function point(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  }

  self.clear = () => {
    pen.fillStyle = "#000";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    self.drawn = false;
    self.example = false;
  };

  self.wire = (onDone) => {
    let last = null;
    canvas.addEventListener("pointerdown", (e) => {
      if (self.example) self.clear(); // the first stroke starts a drawing of one's own, not a mark on the seven
      canvas.setPointerCapture(e.pointerId);
      last = point(e);
      stroke(last, last);
    });
    canvas.addEventListener("pointermove", (e) => { if (last) { const p = point(e); stroke(last, p); last = p; } });
    const end = () => { if (last) { last = null; onDone(); } };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  };

  /** The ink levels, grid×grid block means, in 256 steps (k/255): exactly what toText() keeps in the URL,
   * so a reload or a shared link sends the model the same numbers. */
  self.grid = () => {
    const { data } = pen.getImageData(0, 0, canvas.width, canvas.height);
    const b = canvas.width / grid, out = new Array(grid * grid).fill(0);
    for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) {
      out[Math.floor(y / b) * grid + Math.floor(x / b)] += data[(y * canvas.width + x) * 4];
    }
    return out.map((v) => Math.min(255, Math.round(v / (b * b))) / 255);
  };

  /** The drawing as text for the URL: grid×grid bytes (ink level × 255), base64url. */
  self.toText = () => btoa(String.fromCharCode(...self.grid().map((v) => Math.round(v * 255))))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  /** Paint a drawing from toText()'s text, one uniform block per cell (so grid() reads back the same
   * levels); false when the text is not one. */
  self.fromText = (text) => {
    let bytes;
    try {
      bytes = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    } catch {
      return false;
    }
    if (bytes.length !== grid * grid) return false;
    const b = canvas.width / grid;
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes.charCodeAt(i);
      pen.fillStyle = `rgb(${v}, ${v}, ${v})`;
      pen.fillRect((i % grid) * b, Math.floor(i / grid) * b, b, b);
    }
    self.drawn = true;
    return true;
  };

  /** A seven, drawn once so the page opens on a prediction (STYLE.md §14). Crossed, as the dataset's
   * writers draw it (the held-out sevens' mean has the bar): the uncrossed one opened on 7 at 47 % against
   * 2 at 37 %, a coin toss that teaches nothing; this one is a clear 7. */
  self.drawSeven = () => {
    const s = canvas.width / 256;
    stroke([80 * s, 50 * s], [180 * s, 50 * s]);
    stroke([180 * s, 50 * s], [110 * s, 220 * s]);
    stroke([100 * s, 140 * s], [175 * s, 140 * s]);
    self.example = true;
  };
  return self;
}

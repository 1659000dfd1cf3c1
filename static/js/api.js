// The pages' one door to the server: JSON in, decoded arrays out. No convolution math lives in JS.

/** POST JSON; a 4xx/5xx throws an Error carrying the server's message (errors are always JSON).
 * opts.signal (an AbortSignal) cancels a request a newer one has superseded (see shell.js). */
async function post(url, body, opts = {}) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    signal: opts.signal });
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new Error(data?.error?.message || `${res.status} ${res.statusText}`);
  }
  return res;
}

/** GET a JSON resource (presets, architectures, models); errors as post(). */
export async function getJSON(url, opts = {}) {
  const res = await fetch(url, { signal: opts.signal });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || `${res.status} ${res.statusText}`);
  return data;
}

/** POST JSON and return the parsed body. */
export async function postJSON(url, body, opts) {
  return (await post(url, body, opts)).json();
}

/** POST JSON and return the body as a Blob (downloads: .npy, .png). */
export async function postBlob(url, body, opts) {
  return (await post(url, body, opts)).blob();
}

/** POST a file as multipart form data (uploads); errors as post(). */
export async function postFile(url, file, opts = {}) {
  const form = new FormData();
  form.append("file", file);
  const res = await fetch(url, { method: "POST", body: form, signal: opts.signal });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || `${res.status} ${res.statusText}`);
  return data;
}

/** POST JSON asking for a binary frame (encoding "binary"): a JSON header, then the arrays' raw
 * little-endian float32 bytes. Each array gets `values`, a Float32Array view into the one buffer, so
 * nothing is decoded value by value. */
export async function postFrame(url, body, opts) {
  const res = await post(url, { ...body, encoding: "binary" }, opts);
  const buf = await res.arrayBuffer();
  const n = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const base = 4 + n;
  const attach = (v) => {
    if (Array.isArray(v)) v.forEach(attach);
    else if (v && typeof v === "object") {
      if (v.encoding === "binary" && "nbytes" in v) v.values = new Float32Array(buf, base + v.offset, v.nbytes / 4);
      else Object.values(v).forEach(attach);
    }
  };
  attach(header);
  return header;
}

/** Decode the API's compact array ({shape, encoding: "base64", data}) into channels of rows. Rows are
 * Float32Array views into one buffer (no per-value copies), which Plotly accepts as heatmap rows. */
export function decodeArray(payload) {
  let flat;
  if (payload.encoding === "binary") {
    flat = payload.values;
  } else if (payload.encoding === "base64") {
    flat = new Float32Array(base64Bytes(payload.data).buffer);
  } else {
    flat = Float32Array.from(payload.data.flat(Infinity));
  }
  const [c, h, w] = payload.shape.length === 4 ? [payload.shape[0] * payload.shape[1], payload.shape[2], payload.shape[3]] : payload.shape;
  const channels = [];
  for (let k = 0; k < c; k++) {
    const rows = [];
    for (let i = 0; i < h; i++) rows.push(flat.subarray((k * h + i) * w, (k * h + i + 1) * w));
    channels.push(rows);
  }
  return channels;
}

/** Base64 → bytes: the native decoder where the browser has it, else a plain loop (still far faster
 * than Array.from with a mapping function on megabytes). */
function base64Bytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const bin = atob(text), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

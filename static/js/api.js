// The pages' one door to the server: JSON in, decoded arrays out. No convolution math lives in JS.

/** POST JSON and return the parsed body; a 4xx/5xx throws an Error carrying the server's message. */
export async function postJSON(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error(data?.error?.message || `${res.status} ${res.statusText}`);
  return data;
}

/** Decode the API's compact array ({shape, encoding: "base64", data}) into nested rows per channel. */
export function decodeArray(payload) {
  let flat;
  if (payload.encoding === "base64") {
    const bytes = Uint8Array.from(atob(payload.data), (c) => c.charCodeAt(0));
    flat = new Float32Array(bytes.buffer);
  } else {
    flat = Float32Array.from(payload.data.flat(Infinity));
  }
  const [c, h, w] = payload.shape.length === 4 ? [payload.shape[0] * payload.shape[1], payload.shape[2], payload.shape[3]] : payload.shape;
  const channels = [];
  for (let k = 0; k < c; k++) {
    const rows = [];
    for (let i = 0; i < h; i++) rows.push(Array.from(flat.subarray((k * h + i) * w, (k * h + i + 1) * w)));
    channels.push(rows);
  }
  return channels;
}

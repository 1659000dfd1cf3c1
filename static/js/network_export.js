// /network's per-layer table as rows, and its two downloads (CSV and a Netron metrics attachment):
// every value is the API's (the cost table and the run), laid out, never recomputed.

// a shape without its batch axis; a scalar (a Constant, or a Cast of one: no activation in) is named, so
// its cell does not read as a bare "→"
const shapeText = (s) => (!s ? "" : s.length === 0 ? "scalar" : s.slice(1).join("×") || s.join("×"));

export function tableRows(run, detail) {
  return detail.layers.map((r, i) => ({
    layer: r.name, op: r.is_1x1 ? "Conv 1×1" : r.op, bn_folded: r.bn_folded,
    geometry: r.kernel ? `${r.kernel.join("×")} / ${r.stride.join("×")} / ${r.groups}` : "",
    shapes: [shapeText(r.in_shape), shapeText(r.out_shape)].filter(Boolean).join(" → "), params: r.params, macs: r.macs,
    bytes: r.bytes_read + r.bytes_written, macs_per_byte: r.macs_per_byte,
    time_ms: run.layers[i]?.time_ms ?? 0, share: run.layers[i]?.time_share ?? 0, is_1x1: r.is_1x1,
    bound: run.layers[i]?.bound ?? "",
  }));
}

export function csv(run, detail) {
  const rows = tableRows(run, detail);
  const cols = ["layer", "op", "bn_folded", "geometry", "shapes", "params", "macs", "bytes", "macs_per_byte", "time_ms", "share", "bound"];
  const q = (v) => (typeof v === "string" ? `"${v.replaceAll('"', '""')}"` : String(v));
  return [cols.join(","), ...rows.map((r) => cols.map((c) => q(r[c])).join(","))].join("\n") + "\n";
}

/** The table as a Netron metrics attachment: Netron (9.x, metadata.Attachment in its view.js) reads a JSON
 * file whose `signature` is "netron:attachment" when it is opened over a model, and shows each item
 * {kind, target, name, value} in the "Metrics" (or "Metadata") section of the model ("model", target "") or
 * of the node whose name is `target` ("node"). Every value is the API's, as in the CSV. */
export function netronAttachment(run, detail) {
  const metrics = [], metadata = [];
  const t = detail.totals;
  const put = (list, kind, target, values) => Object.entries(values).forEach(([name, value]) => list.push({ kind, target, name, value }));
  put(metrics, "model", "", { params: t.params, macs: t.macs, flops: t.flops, bytes_moved: t.bytes_moved,
    time_ms: run.total_ms, pointwise_macs_percent: 100 * t.pointwise_macs_share,
    pointwise_time_percent: 100 * run.pointwise_time_share });
  if (run.roofline) {
    put(metadata, "model", "", { "convlens roofline": `GEMM peak ${(run.roofline.peak_macs_per_s / 1e9).toFixed(1)} GMAC/s, `
      + `bandwidth ${(run.roofline.bandwidth_bytes_per_s / 1e9).toFixed(1)} GB/s, ridge ${run.roofline.ridge_macs_per_byte.toFixed(2)} MACs/byte` });
  }
  tableRows(run, detail).forEach((r, i) => {
    const row = detail.layers[i];
    put(metrics, "node", r.layer, { params: r.params, macs: r.macs, bytes_read: row.bytes_read, bytes_written: row.bytes_written,
      macs_per_byte: r.macs_per_byte, time_ms: r.time_ms, time_percent: 100 * r.share });
    put(metadata, "node", r.layer, { "convlens op": r.op + (r.bn_folded ? " (BN folded)" : ""), "convlens shapes": r.shapes,
      ...(r.bound ? { "convlens bound": r.bound } : {}) });
  });
  return { signature: "netron:attachment", metadata, metrics };
}

export function download(text, type, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}


// Every page's URL keys, one frozen table (namespace) per page (STYLE.md §6: keys are constants, so a
// typo is a TypeError at load, never a silently lost setting). A page's state name → its query key.
// Keys are short because shared links carry them; within one page a key is used once (checked below).
// links.js builds links into other pages from these same tables.

function table(page, keys) {
  const seen = new Map();
  for (const [name, key] of Object.entries(keys)) {
    if (seen.has(key)) throw new Error(`keys.js: ${page} uses "${key}" for both ${seen.get(key)} and ${name}`);
    seen.set(key, name);
  }
  return Object.freeze(keys);
}

export const KEYS = Object.freeze({
  conv: table("conv", {
    input: "in", outChannels: "co", kernelH: "kh", kernelW: "kw", stride: "s", padding: "p", dilation: "d",
    groups: "g", bias: "b", flip: "f", relu: "r", weights: "w", weightSeed: "ws", presetMode: "pm",
    custom: "cw", channel: "oc", regionRow: "rr", regionCol: "rc", regionSize: "rs", step: "t", speed: "v",
    network: "nv", // opened from /network: that page's own query, for the link back (links.addLayerOption)
  }),
  pointwise: table("pointwise", {
    input: "in", outChannels: "co", weights: "w", weightSeed: "ws", bias: "b", relu: "r", custom: "cw",
    step: "t", ninWidths: "nw", speed: "v", fcChannels: "fc", fcBlock: "fk", fcOutputs: "fo", fcSize: "fs",
    network: "nv", // as KEYS.conv.network
  }),
  transposed: table("transposed", {  // issue 15
    input: "in", weights: "w", weightSeed: "ws", outChannels: "co", kernelH: "kh", kernelW: "kw", stride: "s",
    padding: "p", outputPadding: "op", dilation: "d", groups: "g", channel: "oc", inChannel: "ic",
    regionRow: "rr", regionCol: "rc", step: "t", speed: "v",
  }),
  cost: table("cost", {  // the cost lab; designs: the edited designs, base64url JSON (cost.js)
    preset: "pre", c: "c", h: "h", w: "w", designs: "d", repeats: "n", log: "log", gc: "gc", gk: "gk", groups: "g",
    arch: "a", alpha: "al", resolution: "res",
  }),
  receptive: table("receptive", {  // issue 15
    input: "in", network: "n", custom: "cs", pointRow: "pr", pointCol: "pc", step: "t", speed: "v",
  }),
  learn: table("learn", {  // issue 12: /learn, one or two keys per step (the step it belongs to in the name)
    convRow: "ar", convCol: "ac", convPreset: "ak", chanOut: "bo", pixelRow: "pr", pixelCol: "pc", matOut: "mo",
    width: "bw", poolK: "pk", poolInput: "pi", ninRow: "nr", ninCol: "nc", ninWidths: "nw", fcBlock: "fk", fcSize: "fs",
  }),
  network: table("network", {  // issue 13: model id, input kind, test image, size of a dynamic input
    model: "m", inputKind: "ik", testIndex: "ti", size: "sz", imageId: "im",
    drawing: "dr", // the pad's drawing, 32×32 ink levels as base64url bytes (network_pad.js)
  }),
});

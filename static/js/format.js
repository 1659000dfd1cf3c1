// The one number formatter of the pages (STYLE.md §10). K = 1,000, M = 10⁶, G = 10⁹ (SI, not 1024).
// Below 1,000 the number is shown in full; a unit is used from 1,000 on, with 3 significant digits.

export function formatCount(n) {
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  const [div, unit] = a < 1e6 ? [1e3, "K"] : a < 1e9 ? [1e6, "M"] : a < 1e12 ? [1e9, "G"] : [1e12, "T"];
  const v = n / div;
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  let text = v.toFixed(digits);
  if (text.replace("-", "").startsWith("1000")) return formatCount(Math.sign(n) * div * 1000); // 999.96K → 1.00M
  return `${text}${unit}`;
}

/** Bytes with a space before the unit, SI style: "999 B", "697 KB", "8.39 MB" (K = 1,000, as formatCount). */
export function formatBytes(n) {
  const count = formatCount(n), unit = count.match(/[KMGT]$/)?.[0] ?? "";
  return `${unit ? count.slice(0, -1) : count} ${unit}B`;
}

/** An exact integer with thousands separators ("1,234,567"): counts the formulas state exactly.
 * Written out here rather than toLocaleString, whose separator depends on the visitor's locale. */
export function formatInt(n) {
  const s = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${s}` : s;
}

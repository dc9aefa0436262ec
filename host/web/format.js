// Display formatting. Balances are exact decimal strings from the server
// and stay strings here: grouping digits never goes through a float.

/** `"1234567.891"` → `"1,234,567.891"`, exactly. */
export function groupDigits(decimal) {
  const text = String(decimal);
  const negative = text.startsWith("-");
  const [integer, fraction] = (negative ? text.slice(1) : text).split(".");
  const grouped = integer.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + grouped + (fraction !== undefined ? `.${fraction}` : "");
}

/**
 * A share (`"0.123456789012"`, exact, at most 12 places) as a percentage:
 * the decimal point moved as text, `places` digits kept (truncated), and
 * `< 0.01 %` when a non-zero share would print as zero.
 */
export function percent(share, places = 2) {
  const [integer, fraction = ""] = String(share).split(".");
  const padded = fraction.padEnd(2 + places, "0");
  const whole = (integer + padded.slice(0, 2)).replace(/^0+(?=\d)/, "");
  const text = places > 0 ? `${whole}.${padded.slice(2, 2 + places)}` : whole;
  if (!/[1-9]/.test(text) && /[1-9]/.test(String(share))) {
    return `< ${places > 0 ? `0.${"0".repeat(places - 1)}1` : "1"} %`;
  }
  return `${text} %`;
}

export function dateTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** Seconds as `1 h 02 min`, `3 min 05 s`, `12 s`. */
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * A resolved point in time as people read it: a Hedera consensus time
 * (`secs.nanos`) also as a UTC date; anything else (an XRPL ledger index)
 * as is.
 */
export function pointInTime(resolvedAt, chain) {
  if (!resolvedAt) return "—";
  const match = /^(\d{9,11})\.(\d{9})$/.exec(resolvedAt);
  if (match) {
    const date = new Date(Number(match[1]) * 1000).toISOString().replace(".000Z", " UTC").replace("T", " ");
    return `${resolvedAt} (${date})`;
  }
  return chain === "xrpl" ? `ledger ${resolvedAt}` : resolvedAt;
}

/** 10^exponent as a short label: `0.01`, `1`, `1k`, `1M`, `1e21`. */
export function powerLabel(exponent) {
  const names = { 3: "1k", 6: "1M", 9: "1B", 12: "1T" };
  if (names[exponent]) return names[exponent];
  if (exponent >= 0 && exponent <= 2) return String(10 ** exponent);
  if (exponent < 0 && exponent >= -3) return `0.${"0".repeat(-exponent - 1)}1`;
  return `1e${exponent}`;
}

export function count(n) {
  return Number(n).toLocaleString("en-US");
}

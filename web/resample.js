// Importance resampling by a critic, as daedalus.runtime.resample does it (docs/formats.md "Critic files and
// resampling"): a level is one of K candidate walks, kept with probability ∝ exp(critic logit), chosen from the
// level code alone.
import { mix } from "./levelcode.js";

const MASK = (1n << 64n) - 1n;
const RESAMPLE_SALT = 0xD1B54A32D192ED03n;
const CHOICE_SALT = 0x8CB92BA72F3D8DD7n;
export const MAX_RESAMPLE = 64;

/** The K candidate codes (BigInt) of a level code: the code itself, then base + 1 .. base + K - 1. */
export function candidateCodes(code, k) {
  const base = mix(BigInt(code) ^ RESAMPLE_SALT);
  const out = [BigInt(code)];
  for (let j = 1; j < k; j++) out.push((base + BigInt(j)) & MASK);
  return out;
}

/** The number in [0, 1) a level's choice among its candidates uses. */
export function choiceUniform(code) {
  const base = mix(BigInt(code) ^ RESAMPLE_SALT);
  return Number(mix(base ^ CHOICE_SALT) >> 11n) * 2 ** -53;
}

/** The index of the kept candidate from its K float32 logits and the level's uniform. */
export function choose(logits, u) {
  let top = -Infinity;
  for (const s of logits) {
    if (!Number.isFinite(s)) throw new Error("the critic returned NaN or inf logits");
    top = Math.max(top, s);
  }
  const cumulative = [];
  let total = 0;
  for (const s of logits) cumulative.push(total += Math.exp(s - top));
  const threshold = u * total;
  for (let j = 0; j < cumulative.length; j++) if (threshold < cumulative[j]) return j;
  return cumulative.length - 1;
}

/** A K from a URL parameter: an integer 1..MAX_RESAMPLE, or an Error naming the value. */
export function parseResample(text) {
  const s = String(text).trim();
  const k = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!(k >= 1 && k <= MAX_RESAMPLE)) {
    throw new Error(`resample must be an integer from 1 to ${MAX_RESAMPLE} (candidates per level), got ${JSON.stringify(s)}`);
  }
  return k;
}

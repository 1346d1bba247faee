// Portable level codes, version 2 (docs/formats.md "Level codes"): a level code and a dimension give one N(0, 1)
// number, the same as daedalus.runtime.levelcode in Python. SplitMix64 in BigInt, Box–Muller in float64, rounded
// to float32.

export const LEVEL_CODE_VERSION = 2;
// Level codes a player or a URL gives are at most 2^53, as in Python (the largest integer a JSON number holds
// exactly); the stream itself is defined for every 64-bit code.
export const MAX_CODE = 1n << 53n;
const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9E3779B97F4A7C15n;
const TWO_PI = 6.283185307179586; // the float64 nearest 2π
const TWO_53 = 2 ** -53;

/** SplitMix64's output function, mod 2^64. */
export function mix(x) {
  x ^= x >> 30n;
  x = (x * 0xBF58476D1CE4E5B9n) & MASK;
  x ^= x >> 27n;
  x = (x * 0x94D049BB133111EBn) & MASK;
  return x ^ (x >> 31n);
}

/** A level code from a string or number: a BigInt in [0, 2^53], or an Error naming the value. */
export function parseCode(text) {
  const s = String(text).trim();
  if (!/^[0-9]+$/.test(s)) throw new Error(`level code must be a non-negative integer, got ${JSON.stringify(s)}`);
  const code = BigInt(s);
  if (code > MAX_CODE) throw new Error(`level code must be at most 2^53 = 9007199254740992, got ${s}`);
  return code;
}

/** Words 0 .. count-1 of a level code's stream (BigInt). */
export function words(code, count) {
  const key = mix((BigInt(code) + GOLDEN) & MASK);
  const out = new Array(count);
  for (let n = 0; n < count; n++) out[n] = mix((key + BigInt(n + 1) * GOLDEN) & MASK);
  return out;
}

/** Float64Array of `dim` standard normals of a level code: entry d depends on the code and d alone. */
export function normals(code, dim) {
  const pairs = (dim + 1) >> 1;
  const w = words(code, 2 * pairs);
  const out = new Float64Array(2 * pairs);
  for (let j = 0; j < pairs; j++) {
    const u1 = (Number(w[2 * j] >> 11n) + 1) * TWO_53;
    const u2 = Number(w[2 * j + 1] >> 11n) * TWO_53;
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = TWO_PI * u2;
    out[2 * j] = r * Math.cos(t);
    out[2 * j + 1] = r * Math.sin(t);
  }
  return out.subarray(0, dim);
}

/**
 * Float32Array z of a level code: N(0, I), or a Gaussian (mean, lower-triangular scaleTril) over the first
 * mean.length dimensions (the model's latent_prior or a style), in float64, then rounded to float32.
 */
export function latents(code, dim, mean = null, scaleTril = null) {
  const eps = normals(code, dim);
  const z = new Float64Array(eps);
  if (mean) {
    for (let i = 0; i < mean.length; i++) {
      let s = 0;
      for (let j = 0; j <= i; j++) s += scaleTril[i][j] * eps[j];
      z[i] = mean[i] + s;
    }
  }
  return Float32Array.from(z);
}

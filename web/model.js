// The shipped decoder in the browser: onnxruntime-web (WASM backend) runs the graph; the metadata is read from the
// ONNX file itself (ModelProto.metadata_props), so the page needs nothing but the .onnx file.
import * as ort from "./ort/ort.wasm.min.mjs";
import { latents } from "./levelcode.js";
import { candidateCodes, choiceUniform, choose } from "./resample.js";
import { CARVE_BRAID_PREFERENCE, carveWalk, levelText, rasterWalk, turnBack, windowTables } from "./walk.js";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
ort.env.wasm.numThreads = 1; // no cross-origin isolation needed, and the same kernels every time
ort.env.logLevel = "error";

function varint(bytes, at) {
  let value = 0, scale = 1, b;
  do {
    b = bytes[at++];
    value += (b & 0x7f) * scale;
    scale *= 128;
  } while (b & 0x80);
  return [value, at];
}

/** The string fields of a message: Map field number -> [Uint8Array]; other wire types skipped. */
function fields(bytes, begin, end) {
  const out = new Map();
  let at = begin;
  while (at < end) {
    let tag, length;
    [tag, at] = varint(bytes, at);
    const field = Math.floor(tag / 8), wire = tag & 7;
    if (wire === 0) [, at] = varint(bytes, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      [length, at] = varint(bytes, at);
      if (!out.has(field)) out.set(field, []);
      out.get(field).push([at, at + length]);
      at += length;
    } else throw new Error(`not an ONNX file: wire type ${wire} at byte ${at}`);
  }
  return out;
}

/** metadata_props (ModelProto field 14: StringStringEntryProto key = 1, value = 2) as a plain object. */
export function onnxMetadata(bytes) {
  const text = new TextDecoder();
  const meta = {};
  for (const [begin, end] of fields(bytes, 0, bytes.length).get(14) || []) {
    const entry = fields(bytes, begin, end);
    const get = (n) => (entry.has(n) ? text.decode(bytes.subarray(...entry.get(n)[0])) : "");
    meta[get(1)] = get(2);
  }
  return meta;
}

// How each kind of decoder's outputs (by name) become a level grid, as daedalus.runtime.decodings does it.
const DECODINGS = {
  raster(decoder, out, braid) {
    const outputs = {
      cellLogits: out.cell_logits.data, contextMix: out.context_mix.data,
      contextBasis: out.context_basis.data, uniforms: out.uniforms.data,
      windowBias: out.window_bias ? out.window_bias.data : null,
      windowWeights: out.window_weights ? out.window_weights.data : null,
    };
    const windowHidden = decoder.meta.window_hidden ? decoder.meta.window_hidden.split(",").map(Number) : [];
    if (windowHidden.length) {
      // The tables depend on the fixed weights only: computed for the first level, kept for the others.
      decoder.windowTables ||= windowTables(outputs.windowWeights, windowHidden[0]);
      outputs.windowTables = decoder.windowTables;
    }
    let bonus = braid ? decoder.loopBonus : 0;
    const temperature = decoder.temperature;
    if (temperature !== 1) {
      // docs/formats.md "Raster decoders", step 0: the scores divided by T through the numbers they are linear in.
      // A float32 times a float32 is exact in float64, so storing it in a Float32Array rounds as float32 math does.
      const s = Math.fround(1 / temperature);
      outputs.cellLogits = Float32Array.from(outputs.cellLogits, (v) => v * s);
      outputs.contextMix = Float32Array.from(outputs.contextMix, (v) => v * s);
      if (windowHidden.length) {
        if (!decoder.temperedWeights) {
          const scaled = Float32Array.from(outputs.windowWeights);
          const outputLayer = windowHidden[windowHidden.length - 1] * 4 + 4;
          for (let i = scaled.length - outputLayer; i < scaled.length; i++) scaled[i] *= s;
          decoder.temperedWeights = scaled;
        }
        outputs.windowWeights = decoder.temperedWeights;
      }
      bonus /= temperature;
    }
    const grid = rasterWalk(outputs, decoder.height / 2, decoder.width / 2, braid, bonus,
      decoder.meta.closed_cells === "learned", windowHidden);
    return turnBack(grid, decoder.height, decoder.width, decoder.meta.walk_order);
  },
  carve(decoder, out, braid) {
    const grid = carveWalk(out.carve_scores.data, decoder.height / 2, decoder.width / 2, decoder.start);
    if (braid) {
      const preference = out.p_open.data;
      for (let i = 0; i < grid.length; i++) if (preference[i] >= CARVE_BRAID_PREFERENCE) grid[i] = 1;
    }
    return grid;
  },
};

/** The bytes of an ONNX file and its metadata; `what` names it in the error ("model", "critic"). */
async function fetchOnnx(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch the ${what} ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { bytes, meta: onnxMetadata(bytes) };
}

export class Decoder {
  static async load(url) {
    const { bytes, meta } = await fetchOnnx(url, "model");
    if (!Object.hasOwn(DECODINGS, meta.decoding)) {
      throw new Error(`the page walks ${Object.keys(DECODINGS).join(" and ")} decoders; this model's decoding is ${JSON.stringify(meta.decoding)}`);
    }
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const decoder = new Decoder(session, meta);
    decoder.bytes = bytes; // hashed only when a critic asks which decoder it was trained against
    return decoder;
  }

  constructor(session, meta) {
    this.session = session;
    this.meta = meta;
    this.height = Number(meta.height);
    this.width = Number(meta.width);
    this.latentDim = Number(meta.latent_dim);
    this.start = JSON.parse(meta.start);
    this.exit = JSON.parse(meta.exit);
    this.loopBonus = Number(meta.braid_loop_bonus || 0);
    // The prior's walk temperature (docs/formats.md "Raster decoders", step 0); the page draws the prior only.
    this.temperature = Number(meta.walk_temperature || 1);
    if (!(Number.isFinite(this.temperature) && this.temperature > 0)) {
      throw new Error(`the model's walk_temperature ${JSON.stringify(meta.walk_temperature)} is not a finite number > 0`);
    }
    const prior = JSON.parse(meta.latent_prior || '{"kind": "normal"}');
    this.mean = prior.kind === "gaussian" ? prior.mean : null;
    this.scaleTril = prior.kind === "gaussian" ? prior.scale_tril : null;
  }

  /** The graph's outputs for one level code (BigInt), by name. */
  async outputs(code) {
    const z = latents(code, this.latentDim, this.mean, this.scaleTril);
    return this.session.run({ z: new ort.Tensor("float32", z, [1, this.latentDim]) });
  }

  /** The level of a code in a mode: {grid (Uint8Array H*W), text (Level.to_text)}. */
  walk(outputs, mode) {
    const grid = DECODINGS[this.meta.decoding](this, outputs, mode === "braid");
    return { grid, text: levelText(grid, this.height, this.width, this.start, this.exit) };
  }

  /** From now on, each level is the critic's choice of k candidate walks (docs/formats.md "Critic files and
   * resampling"); the critic must be this decoder's, for perfect or braid levels as it says. */
  async useCritic(critic, k) {
    // crypto.subtle exists on https and localhost pages only; elsewhere the critic's decoder check is skipped.
    if (globalThis.crypto && crypto.subtle) this.sha256 ||= await sha256(this.bytes);
    else console.warn("no crypto.subtle on this page (plain http off localhost): the critic's decoder_sha256 is not checked");
    critic.checkDecoder(this);
    this.critic = critic;
    this.resample = k;
  }

  /** The plain level of a code (no resampling). */
  async plainLevel(code, mode) {
    return this.walk(await this.outputs(code), mode);
  }

  async level(code, mode) {
    if (!this.critic || this.resample === 1) return this.plainLevel(code, mode);
    this.critic.checkMode(mode);
    const levels = [];
    for (const candidate of candidateCodes(code, this.resample)) {
      levels.push(this.walk(await this.outputs(candidate), mode));
    }
    const logits = await this.critic.logits(levels.map((level) => level.grid), this.height, this.width);
    return levels[choose(logits, choiceUniform(code))];
  }
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A critic file (daedalus critic): input level float32 [batch, H, W] (1 = floor), output logit float32 [batch]. */
export class Critic {
  static async load(url) {
    const { bytes, meta } = await fetchOnnx(url, "critic");
    if (meta.daedalus_critic !== "1") {
      throw new Error(`${url} is not a Daedalus critic of format "1" (daedalus_critic ${JSON.stringify(meta.daedalus_critic)})`);
    }
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    if (session.inputNames.join() !== "level" || session.outputNames.join() !== "logit") {
      throw new Error(`the critic ${url} has inputs ${JSON.stringify(session.inputNames)} and outputs ${JSON.stringify(session.outputNames)}, expected ["level"] and ["logit"]`);
    }
    return new Critic(session, meta, url);
  }

  constructor(session, meta, url) {
    this.session = session;
    this.meta = meta;
    this.url = url;
  }

  checkDecoder(decoder) {
    if (Number(this.meta.height) !== decoder.height || Number(this.meta.width) !== decoder.width) {
      throw new Error(`the critic ${this.url} scores ${this.meta.height}x${this.meta.width} levels, the model draws ${decoder.height}x${decoder.width}`);
    }
    if (this.meta.decoder_sha256 && decoder.sha256 && this.meta.decoder_sha256 !== decoder.sha256) {
      throw new Error(`the critic ${this.url} was trained against another decoder (decoder_sha256 differs)`);
    }
    if (this.meta.style) throw new Error(`the critic ${this.url} is for style ${JSON.stringify(this.meta.style)}; the page draws the prior`);
  }

  checkMode(mode) {
    const trained = this.meta.mode || "perfect";
    if (mode !== trained) throw new Error(`the critic ${this.url} was trained on ${trained} levels, got mode ${JSON.stringify(mode)}`);
  }

  /** Float32 logits of grids (Uint8Array H*W each). */
  async logits(grids, height, width) {
    const x = new Float32Array(grids.length * height * width);
    grids.forEach((grid, i) => x.set(grid, i * height * width));
    const out = await this.session.run({ level: new ort.Tensor("float32", x, [grids.length, height, width]) });
    return Array.from(out.logit.data);
  }
}

// The page: load the decoder, decode a level code, play the chase on a canvas; `?export=1` writes the level's
// text form into <pre id="level-text"> instead (what `daedalus generate --count 1 --seed C --mode M --format txt`
// writes). State for scripts and tests is on window.daedalus.
import { Critic, Decoder } from "./model.js";
import { parseResample } from "./resample.js";
import { parseCode } from "./levelcode.js";
import { Autopilot, Board, levelParams, PLAYING, TICKS_PER_SECOND, WON, World } from "./game.js";

const WALL = "rgb(24, 26, 38)", FLOOR = "rgb(232, 226, 208)", START = "rgb(46, 160, 67)", EXIT = "rgb(214, 55, 46)";
const PLAYER = "rgb(60, 120, 230)", MINOTAUR = "rgb(150, 60, 40)";
const KEYS = {
  ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
  KeyW: "up", KeyS: "down", KeyA: "left", KeyD: "right",
};
const MODES = ["perfect", "braid"];
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  ready: false, error: null, code: null, mode: params.get("mode") || "braid", level: 1, world: null,
  autopilot: params.get("autopilot") === "1", frames: 0, frameTimes: [], firstLevelMs: null, levelsPlayed: 0,
  won: 0, caught: 0, paused: false,
};
window.daedalus = state;

function fail(error) {
  state.error = String(error && error.message ? error.message : error);
  $("status").textContent = state.error;
  document.body.dataset.state = "error";
  console.error(state.error);
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
state.frameP99 = () => percentile(state.frameTimes, 0.99);

let decoder = null, board = null, pilot = null, backdrop = null, scale = 20;

/** Tile size in pixels: the whole board fits the window beside the panel (the decoder sets the board's size, from
 * 16 x 16 to 64 x 64, square or not), at least 4 pixels and at most 32 per tile. Sizes the canvas to match. */
function fitBoard() {
  const room = [Math.max(160, window.innerWidth - 340), Math.max(160, window.innerHeight - 40)];
  scale = Math.max(4, Math.min(32, Math.floor(Math.min(room[0] / decoder.width, room[1] / decoder.height))));
  const canvas = $("board");
  canvas.width = decoder.width * scale; canvas.height = decoder.height * scale;
  state.tile = scale;
}
const held = [];

async function play(code, mode) {
  // A critic is trained for one mode; a level of the other mode (the form's switch) is drawn without it.
  const plain = decoder.critic && mode !== (decoder.critic.meta.mode || "perfect");
  const level = plain ? await decoder.plainLevel(code, mode) : await decoder.level(code, mode);
  state.code = code; state.mode = mode;
  board = new Board(level.grid, decoder.height, decoder.width);
  const pick = Number(code % 1000n) / 1000;
  state.world = new World(board, decoder.start, decoder.exit, levelParams(state.level), pick);
  pilot = new Autopilot(state.world);
  state.text = level.text;
  fitBoard();
  backdrop = drawBackdrop(level.grid);
  $("code").textContent = code.toString();
  $("level").textContent = String(state.level);
  $("mode-name").textContent = mode;
  $("code-input").value = code.toString();
  $("mode-input").value = mode;
  $("status").textContent = plain ? `Run! (${mode}: not resampled, the critic is for ${decoder.critic.meta.mode || "perfect"} levels)` : "Run!";
  state.levelsPlayed += 1;
  state.pendingAt = null;
}

function drawBackdrop(grid) {
  const canvas = document.createElement("canvas");
  canvas.width = decoder.width * scale; canvas.height = decoder.height * scale;
  const g = canvas.getContext("2d");
  for (let r = 0; r < decoder.height; r++) {
    for (let c = 0; c < decoder.width; c++) {
      g.fillStyle = grid[r * decoder.width + c] ? FLOOR : WALL;
      g.fillRect(c * scale, r * scale, scale, scale);
    }
  }
  for (const [[r, c], colour] of [[decoder.start, START], [decoder.exit, EXIT]]) {
    g.fillStyle = colour;
    g.fillRect(c * scale, r * scale, scale, scale);
  }
  return canvas;
}

function draw(extra) {
  const g = $("board").getContext("2d");
  g.drawImage(backdrop, 0, 0);
  const w = state.world;
  for (const [mover, colour] of [[w.player, PLAYER], [w.minotaur, MINOTAUR]]) {
    const [r, c] = mover.where(extra);
    g.fillStyle = colour;
    g.beginPath();
    g.arc((c + 0.5) * scale, (r + 0.5) * scale, scale * 0.42, 0, 2 * Math.PI);
    g.fill();
  }
}

function tick() {
  const w = state.world;
  if (w.state !== PLAYING) return;
  const wants = state.autopilot ? pilot.want() : held.slice().reverse();
  if (w.step(wants) !== PLAYING) {
    if (w.state === WON) state.won += 1; else state.caught += 1;
    $("status").textContent = w.state === WON ? "Out! Next level…" : "Caught! Again…";
    state.pendingAt = performance.now() + 800;
  }
}

let lag = 0, last = null, busy = false;
const STEP = 1000 / TICKS_PER_SECOND;

function frame(now) {
  requestAnimationFrame(frame);
  if (!state.world || busy) return;
  const begin = performance.now();
  lag += last === null ? STEP : Math.min(now - last, 100);
  last = now;
  while (lag >= STEP) { if (!state.paused) tick(); lag -= STEP; }
  draw(lag / STEP);
  if (state.firstLevelMs === null) {
    state.firstLevelMs = performance.now();
    $("first").textContent = state.firstLevelMs.toFixed(0);
  }
  state.frameTimes.push(performance.now() - begin);
  if (state.frameTimes.length > 20000) state.frameTimes.splice(0, 10000);
  state.frames += 1;
  if (state.frames % 30 === 0) $("p99").textContent = state.frameP99().toFixed(2);
  if (state.pendingAt !== null && state.pendingAt !== undefined && performance.now() >= state.pendingAt) {
    const won = state.world.state === WON;
    state.level = won ? state.level + 1 : state.level;
    const code = won ? (state.code + 1n) % (1n << 31n) : state.code; // rules.next_seed
    busy = true;
    play(code, state.mode).catch(fail).finally(() => { busy = false; });
  }
}

document.addEventListener("keydown", (event) => {
  if (event.target && event.target.tagName === "INPUT") return;
  if (event.code === "Tab") { event.preventDefault(); state.autopilot = !state.autopilot; return; }
  if (event.code === "KeyP" || event.code === "Space") {
    event.preventDefault();
    state.paused = !state.paused;
    $("status").textContent = state.paused ? "Paused (P or Space resumes)" : "Run!";
    return;
  }
  const dir = KEYS[event.code];
  if (!dir) return;
  event.preventDefault();
  if (!held.includes(dir)) held.push(dir);
});
window.addEventListener("resize", () => {
  if (!board) return;
  fitBoard();
  backdrop = drawBackdrop(board.grid);
});
document.addEventListener("keyup", (event) => {
  const i = held.indexOf(KEYS[event.code]);
  if (i >= 0) held.splice(i, 1);
});

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  let code;
  try {
    code = parseCode($("code-input").value);
  } catch (error) {
    $("status").textContent = error.message;
    return;
  }
  state.level = 1;
  busy = true;
  play(code, $("mode-input").value).catch(fail).finally(() => { busy = false; });
});

/** The text form of a level code in a mode (for scripts: window.daedalus.exportText("17", "braid")). */
state.exportText = async (code, mode) => (await decoder.level(parseCode(code), mode)).text;
/** Both modes from one decode, without resampling: {perfect, braid}. */
state.exportBoth = async (code) => {
  const outputs = await decoder.outputs(parseCode(code));
  return { perfect: decoder.walk(outputs, "perfect").text, braid: decoder.walk(outputs, "braid").text };
};

async function main() {
  if (!MODES.includes(state.mode)) throw new Error(`mode must be perfect or braid, got ${JSON.stringify(state.mode)}`);
  const code = params.has("code") ? parseCode(params.get("code")) : BigInt(Math.floor(Math.random() * 2 ** 31));
  decoder = await Decoder.load(params.get("model") || "./model.onnx");
  if (params.has("resample")) {
    // ?resample=K: each level is the critic's choice of K candidate walks (the critic daedalus web --critic serves).
    const k = parseResample(params.get("resample"));
    if (k > 1) {
      await decoder.useCritic(await Critic.load(params.get("critic") || "./critic.onnx"), k);
      if (!params.has("mode")) state.mode = decoder.critic.meta.mode || "perfect";
    }
  }
  state.ready = true;
  if (params.get("export") === "1") {
    const level = await decoder.level(code, state.mode);
    $("level-text").textContent = level.text;
    state.text = level.text;
    $("status").textContent = `level code ${code} (${state.mode}): text form below`;
    document.body.dataset.state = "exported";
    return;
  }
  await play(code, state.mode);
  document.body.dataset.state = "playing";
  requestAnimationFrame(frame);
}

main().catch(fail);

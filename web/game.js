// The chase (a port of daedalus.game_demo.rules and .autopilot): fixed ticks, the player runs for the exit, the
// minotaur steps along a shortest path to the player, re-planned at every tile.

export const TICKS_PER_SECOND = 60;
export const CATCH_DISTANCE = 0.75;
export const DIRECTIONS = { up: [-1, 0], right: [0, 1], down: [1, 0], left: [0, -1] };
const OPPOSITE = { up: "down", down: "up", left: "right", right: "left" };
export const PLAYING = "playing", WON = "won", CAUGHT = "caught";
const BIG = 1 << 30;

/** The difficulty of 1-based level n (rules.level_params). */
export function levelParams(n) {
  const k = n - 1;
  return {
    playerTicks: 8,
    minotaurTicks: Math.max(7, 14 - k),
    wakeTicks: Math.max(0, 90 - 15 * k),
    startFraction: Math.max(0.4, 0.9 - 0.07 * k),
  };
}

/** A maze prepared for play: open neighbours and breadth-first distances (cached per source tile). */
export class Board {
  constructor(grid, height, width) {
    this.grid = grid; this.height = height; this.width = width;
    this.adjacency = [];
    for (let i = 0; i < height * width; i++) {
      const list = [];
      if (grid[i]) {
        const r = Math.floor(i / width), c = i % width;
        for (const [dr, dc] of Object.values(DIRECTIONS)) {
          const nr = r + dr, nc = c + dc;
          if (nr >= 0 && nr < height && nc >= 0 && nc < width && grid[nr * width + nc]) list.push(nr * width + nc);
        }
      }
      this.adjacency.push(list);
    }
    this.cache = new Map();
  }

  isOpen(r, c) {
    return r >= 0 && r < this.height && c >= 0 && c < this.width && this.grid[r * this.width + c] === 1;
  }

  /** Int32Array of steps from flat tile `from` to every tile, -1 where unreachable. */
  distances(from) {
    let d = this.cache.get(from);
    if (d) return d;
    d = new Int32Array(this.height * this.width).fill(-1);
    d[from] = 0;
    const queue = [from];
    for (let q = 0; q < queue.length; q++) {
      const t = queue[q];
      for (const n of this.adjacency[t]) if (d[n] < 0) { d[n] = d[t] + 1; queue.push(n); }
    }
    if (this.cache.size > 64) this.cache.clear();
    this.cache.set(from, d);
    return d;
  }

  /** The loop core: open tiles left after pruning tiles with at most one open neighbour, again and again. */
  core() {
    const alive = Uint8Array.from(this.grid);
    let changed = true;
    while (changed) {
      changed = false;
      const prune = [];
      for (let i = 0; i < alive.length; i++) {
        if (!alive[i]) continue;
        let degree = 0;
        for (const n of this.adjacency[i]) degree += alive[n];
        if (degree <= 1) prune.push(i);
      }
      for (const i of prune) alive[i] = 0;
      changed = prune.length > 0;
    }
    return alive;
  }
}

class Mover {
  constructor(pos, moveTicks, facing) {
    this.pos = pos; this.moveTicks = moveTicks; this.target = null; this.progress = 0; this.facing = facing;
  }
  advance() {
    if (this.target === null) return false;
    this.progress += 1;
    if (this.progress >= this.moveTicks) { this.pos = this.target; this.target = null; this.progress = 0; return true; }
    return false;
  }
  start(direction, tile) { this.target = tile; this.progress = 0; this.facing = direction; }
  where(extra = 0) {
    if (this.target === null) return this.pos;
    const t = Math.min(1, (this.progress + extra) / this.moveTicks);
    return [this.pos[0] + (this.target[0] - this.pos[0]) * t, this.pos[1] + (this.target[1] - this.pos[1]) * t];
  }
  get tile() { return this.target !== null ? this.target : this.pos; }
}

/** Where the minotaur appears: a far cell off the player's route (rules.minotaur_start); `pick` in [0, 1). */
function minotaurStart(board, start, exit, fraction, pick) {
  const w = board.width;
  const fromStart = board.distances(start[0] * w + start[1]);
  const fromExit = board.distances(exit[0] * w + exit[1]);
  let longest = 0;
  for (const d of fromStart) longest = Math.max(longest, d);
  const route = fromStart[exit[0] * w + exit[1]] >= 0 ? fromStart[exit[0] * w + exit[1]] : longest;
  const far = [];
  let best = 0;
  for (let i = 0; i < fromStart.length; i++) {
    if (fromStart[i] > fromStart[best]) best = i;
    const r = Math.floor(i / w), c = i % w;
    if (fromStart[i] >= Math.max(4, fraction * longest) && r % 2 === 0 && c % 2 === 0 && !(r === exit[0] && c === exit[1])) {
      far.push([i, fromStart[i] + Math.max(fromExit[i], 0) - route]);
    }
  }
  if (!far.length) return [Math.floor(best / w), best % w];
  const detours = far.map((f) => f[1]).sort((a, b) => a - b);
  const cut = detours[Math.floor(0.75 * (detours.length - 1))];
  const top = far.filter((f) => f[1] >= cut);
  const i = top[Math.floor(pick * top.length)][0];
  return [Math.floor(i / w), i % w];
}

export class World {
  constructor(board, start, exit, params, pick = 0.5) {
    this.board = board; this.start = start; this.exit = exit; this.params = params;
    this.player = new Mover(start, params.playerTicks, "right");
    this.minotaur = new Mover(minotaurStart(board, start, exit, params.startFraction, pick), params.minotaurTicks, "left");
    this.ticks = 0;
    this.state = PLAYING;
  }

  gap() {
    const [pr, pc] = this.player.where(), [mr, mc] = this.minotaur.where();
    return Math.abs(pr - mr) + Math.abs(pc - mc);
  }

  /** One tick; `wants`: directions in order of preference. Returns the state after it. */
  step(wants = []) {
    if (this.state !== PLAYING) return this.state;
    this.ticks += 1;
    this.movePlayer(wants);
    const p = this.player;
    if (p.pos[0] === this.exit[0] && p.pos[1] === this.exit[1] && p.target === null) return (this.state = WON);
    if (this.ticks >= this.params.wakeTicks) this.moveMinotaur();
    if (this.gap() < CATCH_DISTANCE) this.state = CAUGHT;
    return this.state;
  }

  movePlayer(wants) {
    const p = this.player;
    if (p.target !== null && wants.length && wants[0] === OPPOSITE[p.facing]) {
      [p.pos, p.target] = [p.target, p.pos];
      p.progress = p.moveTicks - p.progress;
      p.facing = wants[0];
    }
    if (p.target === null) this.choose(wants);
    if (p.advance() && !(p.pos[0] === this.exit[0] && p.pos[1] === this.exit[1])) this.choose(wants);
  }

  choose(wants) {
    const p = this.player;
    for (const name of wants) {
      const [dr, dc] = DIRECTIONS[name];
      const tile = [p.pos[0] + dr, p.pos[1] + dc];
      if (this.board.isOpen(tile[0], tile[1])) { p.start(name, tile); return; }
    }
  }

  moveMinotaur() {
    const m = this.minotaur;
    if (m.target === null) this.hunt();
    if (m.advance()) this.hunt();
  }

  hunt() {
    const m = this.minotaur, w = this.board.width;
    const goal = this.player.tile;
    const dist = this.board.distances(goal[0] * w + goal[1]);
    const here = dist[m.pos[0] * w + m.pos[1]];
    if (here <= 0) return;
    for (const [name, [dr, dc]] of Object.entries(DIRECTIONS)) {
      const r = m.pos[0] + dr, c = m.pos[1] + dc;
      if (this.board.isOpen(r, c) && dist[r * w + c] === here - 1) { m.start(name, [r, c]); return; }
    }
  }
}

/** The autopilot (game_demo.autopilot): heads for the exit through tiles it reaches safely before the minotaur,
 * else flees to the safe tile with the widest lead, preferring the maze's loops. */
export class Autopilot {
  constructor(world) {
    this.world = world;
    const w = world.board.width;
    this.core = world.board.core();
    this.exitFlat = world.exit[0] * w + world.exit[1];
    this.toExit = world.board.distances(this.exitFlat);
  }

  minotaurTimes() {
    const w = this.world, m = w.minotaur, width = w.board.width;
    const wait = Math.max(0, w.params.wakeTicks - w.ticks);
    const left = m.target !== null ? m.moveTicks - m.progress : 0;
    const d = w.board.distances(m.tile[0] * width + m.tile[1]);
    return Array.from(d, (x) => (x >= 0 ? x * m.moveTicks + wait + left : BIG));
  }

  safe(limit, start, delay) {
    const w = this.world, stepTicks = w.player.moveTicks, margin = w.minotaur.moveTicks;
    const seen = new Map();
    if (limit[start] <= delay + (margin >> 1)) return seen;
    seen.set(start, [delay, -1]);
    const queue = [start];
    for (let q = 0; q < queue.length; q++) {
      const tile = queue[q];
      const [arrival, first] = seen.get(tile);
      const next = arrival + stepTicks;
      for (const n of w.board.adjacency[tile]) {
        if (!seen.has(n) && next <= limit[n] - (n === this.exitFlat ? 0 : margin)) {
          seen.set(n, [next, first < 0 ? n : first]);
          queue.push(n);
        }
      }
    }
    return seen;
  }

  want() {
    const w = this.world, p = w.player, width = w.board.width;
    if (w.state !== PLAYING) return [];
    let origin, delay;
    if (p.target === null) { origin = p.pos; delay = 0; }
    else if (p.progress + 1 >= p.moveTicks) { origin = p.target; delay = 1; }
    else return this.keepOrTurn(p.target);
    const start = origin[0] * width + origin[1];
    if (start === this.exitFlat) return [];
    const limit = this.minotaurTimes();
    const region = this.safe(limit, start, delay);
    let step;
    if (region.has(this.exitFlat)) step = region.get(this.exitFlat)[1];
    else if (region.size > 1) {
      let best = null, key = null;
      for (const [t, [arrival, first]] of region) {
        if (t === start) continue;
        const k = [this.core[t], -this.toExit[t], limit[t] - arrival];
        if (best === null || k[0] > key[0] || (k[0] === key[0] && (k[1] > key[1] || (k[1] === key[1] && k[2] > key[2])))) {
          best = first; key = k;
        }
      }
      step = best;
    } else {
      const options = w.board.adjacency[start];
      if (!options.length) return [];
      step = options.reduce((a, b) => (limit[b] > limit[a] ? b : a));
    }
    return [direction(origin, [Math.floor(step / width), step % width])];
  }

  keepOrTurn(target) {
    const w = this.world, p = w.player, width = w.board.width;
    if (target[0] === w.exit[0] && target[1] === w.exit[1]) return [p.facing];
    const times = this.minotaurTimes();
    const ahead = p.moveTicks - p.progress;
    const t = times[target[0] * width + target[1]], here = times[p.pos[0] * width + p.pos[1]];
    if (ahead > t - w.minotaur.moveTicks && here > t) return [OPPOSITE[p.facing]];
    return [p.facing];
  }
}

function direction(a, b) {
  for (const [name, [dr, dc]] of Object.entries(DIRECTIONS)) if (b[0] - a[0] === dr && b[1] - a[1] === dc) return name;
  throw new Error(`${a} and ${b} are not neighbours`);
}

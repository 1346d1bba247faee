// The walks (docs/formats.md "Raster decoders", steps 1-6, and "Carve decoders"): one level from a decoder's outputs.
// Ports of daedalus.maze.raster_walk and daedalus.maze.scored_carve (the numpy references) for one level at a time.

export const OPTIONS = 4; // right + 2 * down
export const CONTEXTS = 1 << 14; // per context group
// The window network's links (WINDOW_BITS, before the three set bits), in segments of one row and one kind: each
// row above (from r-3) its right links at columns c-4..c+4, then its down links; the cell's row its right links at
// c-4..c-1, then its down links. Each segment, and then the set bits, is one group of the first layer's tables.
const WINDOW_LINKS = [];
const WINDOW_GROUPS = [];
for (let dr = -3; dr <= 0; dr++) {
  for (const down of [false, true]) {
    const last = dr < 0 ? 4 : -1;
    for (let dc = -4; dc <= last; dc++) WINDOW_LINKS.push([down, dr, dc]);
    WINDOW_GROUPS.push(last + 5);
  }
}
WINDOW_GROUPS.push(3);
const WINDOW_INPUTS = WINDOW_LINKS.length + 3;
const f32 = Math.fround;

/**
 * The first layer's weights summed per group of the window's bits (daedalus.maze.raster_walk.window_tables): group
 * g of n bits has 2^n rows, row v the sum, from +0 in bit order, of the weight rows of its bits set in v. It depends
 * on the weights only: a decoder computes it once.
 * @param {Float32Array} weights window_weights (the first layer is its first 65 x width numbers)
 * @param {number} width the first hidden layer's width
 * @returns {Float32Array} [3112 * width]
 */
export function windowTables(weights, width) {
  const rows = WINDOW_GROUPS.reduce((total, n) => total + (1 << n), 0);
  const tables = new Float32Array(rows * width);
  let table = 0, bit = 0;
  for (const n of WINDOW_GROUPS) {
    for (let v = 0; v < 1 << n; v++) {
      const at = (table + v) * width;
      for (let j = 0; j < n; j++) {
        if (!((v >> j) & 1)) continue;
        for (let k = 0; k < width; k++) tables[at + k] = f32(tables[at + k] + weights[(bit + j) * width + k]);
      }
    }
    table += 1 << n;
    bit += n;
  }
  return tables;
}

/**
 * The window network's four scores at one cell (docs/formats.md step 4), float32 in the fixed order: the level's
 * bias plus the table row of each group of bits, in group order; then per layer ReLU, its bias, plus h_k * w_k for k
 * in order. Math.fround after every product and sum gives IEEE float32 arithmetic exactly.
 */
export function windowScores(bits, bias, weights, tables, hidden) {
  const sizes = [WINDOW_INPUTS, ...hidden, OPTIONS];
  let h = Float32Array.from(bias);
  const width = sizes[1];
  let table = 0, bit = 0;
  for (const n of WINDOW_GROUPS) {
    let v = 0;
    for (let j = 0; j < n; j++) v |= bits[bit + j] << j;
    const row = (table + v) * width;
    for (let k = 0; k < width; k++) h[k] = f32(h[k] + tables[row + k]);
    table += 1 << n;
    bit += n;
  }
  let at = WINDOW_INPUTS * width;
  for (let layer = 1; layer < sizes.length - 1; layer++) {
    const inputs = sizes[layer], outputs = sizes[layer + 1];
    const biasAt = at + inputs * outputs;
    const next = weights.slice(biasAt, biasAt + outputs);
    for (let k = 0; k < inputs; k++) {
      const value = h[k] > 0 ? h[k] : 0;
      const wk = at + k * outputs;
      for (let o = 0; o < outputs; o++) next[o] = f32(next[o] + f32(value * weights[wk + o]));
    }
    h = next;
    at = biasAt + outputs;
  }
  return h;
}

/**
 * Walk one level.
 * @param {object} out  cellLogits Float32Array [R*C*4], contextMix [M], contextBasis [16384*G*M*4] (G = 1 or 2
 *   context groups), uniforms [R*C]
 * @param {number} rows R, @param {number} cols C
 * @param {boolean} loops braid mode (links that close a loop allowed)
 * @param {number} loopBonus added to the options that close a loop (braid mode only)
 * @param {boolean} closedCells a cell joined from neither above nor the left may close (metadata closed_cells
 *   "learned"): it becomes wall
 * @param {number[]} windowHidden the window network's hidden widths (metadata window_hidden), [] for none; its
 *   numbers are out.windowBias [hidden[0]] and out.windowWeights (flat, docs/formats.md), and out.windowTables
 *   (windowTables of the weights) when the caller keeps them
 * @returns {Uint8Array} the (2R x 2C) grid, row-major, 1 = open
 */
export function rasterWalk(out, rows, cols, loops, loopBonus = 0, closedCells = false, windowHidden = []) {
  const { cellLogits, contextMix, contextBasis, uniforms, windowBias, windowWeights } = out;
  const tables = windowHidden.length ? out.windowTables || windowTables(windowWeights, windowHidden[0]) : null;
  const mix = contextMix.length;
  const groups = contextBasis.length / (CONTEXTS * mix * OPTIONS);
  if (groups !== 1 && groups !== 2) throw new Error(`contextBasis holds ${contextBasis.length} numbers, not 1 or 2 context groups of ${CONTEXTS} x ${mix} x ${OPTIONS}`);
  const right = new Uint8Array(rows * cols);
  const down = new Uint8Array(rows * cols);
  let label = new Int32Array(cols);
  const hasDown = new Uint8Array(cols); // indexed by label
  const link = (arr, r, c) => (r >= 0 && c >= 0 && c < cols ? arr[r * cols + c] : 0);
  const scores = new Float64Array(OPTIONS);
  const weights = new Float64Array(OPTIONS);
  const allowed = [false, false, false, false];
  const windowBits = new Uint8Array(WINDOW_INPUTS);
  for (let r = 0; r < rows; r++) {
    // 1. Row start: keep the label above through an open up link, fresh labels elsewhere; rename by leftmost cell.
    const fresh = new Int32Array(cols);
    for (let c = 0; c < cols; c++) fresh[c] = r === 0 ? c : (down[(r - 1) * cols + c] ? label[c] : cols + c);
    const renamed = new Int32Array(cols);
    for (let c = 0; c < cols; c++) {
      let k = 0;
      while (fresh[k] !== fresh[c]) k++;
      renamed[c] = k;
    }
    label = renamed;
    hasDown.fill(0);
    for (let c = 0; c < cols; c++) {
      // 2. Context.
      const own = label[c];
      const hasRight = c < cols - 1, hasBelow = r < rows - 1;
      const same = hasRight && label[c + 1] === own ? 1 : 0;
      const setHasDown = hasDown[own];
      let later = 0;
      for (let k = c + 1; k < cols; k++) if (label[k] === own) { later = 1; break; }
      const context =
        link(down, r - 1, c) | (link(right, r, c - 1) << 1) | (link(down, r - 1, c + 1) << 2) | (same << 3) |
        (setHasDown << 4) | (link(right, r, c - 2) << 5) | (link(down, r - 2, c) << 6) |
        (link(right, r - 1, c) << 7) | (later << 8) | (link(right, r - 1, c - 1) << 9) |
        (link(down, r, c - 1) << 10) | (link(down, r - 1, c - 1) << 11) | (link(down, r - 1, c + 2) << 12) |
        (link(right, r - 1, c + 1) << 13);
      // The second group (WIDE_CONTEXT_BITS): links further out and five of the bits above.
      const wide = groups < 2 ? 0 :
        link(right, r, c - 3) | (link(down, r, c - 2) << 1) | (link(down, r - 2, c - 1) << 2) |
        (link(down, r - 2, c + 1) << 3) | (link(right, r - 2, c) << 4) | (link(right, r - 2, c - 1) << 5) |
        (link(right, r - 1, c + 2) << 6) | (link(down, r - 1, c - 2) << 7) | (link(down, r - 3, c) << 8) |
        (link(down, r - 1, c) << 9) | (link(right, r, c - 1) << 10) | (same << 11) | (setHasDown << 12) |
        (later << 13);
      // 3. Allowed options.
      if (!hasRight && !hasBelow) {
        allowed[0] = true; allowed[1] = allowed[2] = allowed[3] = false;
      } else {
        const rightOk = hasRight && (!same || loops);
        allowed[0] = !!(setHasDown || later);
        // A cell joined from neither above nor the left may close (closed cells): it becomes wall.
        if (closedCells && (r || c) && !link(down, r - 1, c) && !link(right, r, c - 1)) allowed[0] = true;
        allowed[1] = rightOk;
        allowed[2] = hasBelow;
        allowed[3] = rightOk && hasBelow;
      }
      // 4. Scores, in float64 (the window network's in float32, then added).
      let window = null;
      if (windowHidden.length) {
        WINDOW_LINKS.forEach(([isDown, dr, dc], i) => { windowBits[i] = link(isDown ? down : right, r + dr, c + dc); });
        const n = WINDOW_LINKS.length;
        windowBits[n] = same; windowBits[n + 1] = setHasDown; windowBits[n + 2] = later;
        window = windowScores(windowBits, windowBias, windowWeights, tables, windowHidden);
      }
      const cell = (r * cols + c) * OPTIONS;
      const base = context * mix * OPTIONS;
      const wideBase = (CONTEXTS + wide) * mix * OPTIONS;
      for (let o = 0; o < OPTIONS; o++) {
        let s = 0;
        for (let j = 0; j < mix; j++) s += contextMix[j] * contextBasis[base + j * OPTIONS + o];
        if (groups === 2) for (let j = 0; j < mix; j++) s += contextMix[j] * contextBasis[wideBase + j * OPTIONS + o];
        scores[o] = cellLogits[cell + o] + s;
        if (window) scores[o] += window[o];
        if (loops && loopBonus && same && (o & 1)) scores[o] += loopBonus;
      }
      // 5. Choice: inverse CDF of the softmax over the allowed options.
      let best = -Infinity, last = 0;
      for (let o = 0; o < OPTIONS; o++) if (allowed[o]) { if (scores[o] > best) best = scores[o]; last = o; }
      let total = 0;
      for (let o = 0; o < OPTIONS; o++) { total += allowed[o] ? Math.exp(scores[o] - best) : 0; weights[o] = total; }
      const x = uniforms[r * cols + c] * weights[OPTIONS - 1];
      let option = 0;
      for (let o = 0; o < OPTIONS; o++) if (weights[o] <= x) option++;
      if (option > last) option = last;
      // 6. Update.
      const openRight = option & 1, openDown = option >> 1;
      right[r * cols + c] = openRight;
      down[r * cols + c] = openDown;
      if (openRight && c + 1 < cols) {
        const a = label[c], b = label[c + 1];
        if (a !== b) {
          for (let k = 0; k < cols; k++) if (label[k] === b) label[k] = a;
          hasDown[a] |= hasDown[b];
        }
      }
      if (openDown) hasDown[label[c]] = 1;
    }
  }
  return gridOf(right, down, rows, cols, closedCells);
}

/**
 * The (2R x 2C) grid of a level's right and down links: cells open (with closedCells, those with an open link),
 * the last row and column wall.
 */
function gridOf(right, down, rows, cols, closedCells = false) {
  const height = 2 * rows, width = 2 * cols;
  const grid = new Uint8Array(height * width);
  const link = (arr, r, c) => (r >= 0 && c >= 0 ? arr[r * cols + c] : 0);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      grid[2 * r * width + 2 * c] = !closedCells ||
        link(right, r, c) || link(down, r, c) || link(right, r, c - 1) || link(down, r - 1, c) ? 1 : 0;
      grid[2 * r * width + 2 * c + 1] = right[r * cols + c];
      grid[(2 * r + 1) * width + 2 * c] = down[r * cols + c];
    }
  }
  for (let i = 0; i < height; i++) grid[i * width + width - 1] = 0;
  for (let j = 0; j < width; j++) grid[(height - 1) * width + j] = 0;
  return grid;
}

// The flips and quarter turns of daedalus.maze.symmetry: [quarter turns counter-clockwise, then flip the columns].
const TRANSFORMS = {
  identity: [0, false], rot90: [1, false], rot180: [2, false], rot270: [3, false],
  flip_cols: [0, true], antitranspose: [1, true], flip_rows: [2, true], transpose: [3, true],
};
const INVERSES = { rot90: "rot270", rot270: "rot90" };

/**
 * A level walked in order `walkOrder` (metadata walk_order, docs/formats.md "Raster decoders" step 7) turned back:
 * the inverse transform of the part inside the wall border (every row and column but the last), which stays wall.
 * A port of daedalus.maze.symmetry.transform with the inverse of the order.
 * @param {Uint8Array} grid the walk's (H x W) grid, row-major; @returns {Uint8Array} the level's grid
 */
export function turnBack(grid, height, width, walkOrder = "identity") {
  if (!walkOrder || walkOrder === "identity") return grid;
  const name = INVERSES[walkOrder] || walkOrder;
  if (!Object.hasOwn(TRANSFORMS, name)) throw new Error(`unknown walk_order ${JSON.stringify(walkOrder)}`);
  const [turns, flip] = TRANSFORMS[name];
  const h = height - 1, w = width - 1; // the inner part
  const oh = turns % 2 ? w : h, ow = turns % 2 ? h : w;
  const out = new Uint8Array(height * width);
  for (let i = 0; i < oh; i++) {
    for (let jj = 0; jj < ow; jj++) {
      const j = flip ? ow - 1 - jj : jj; // flip after the turn
      const [si, sj] = [[i, j], [j, w - 1 - i], [h - 1 - i, w - 1 - j], [h - 1 - j, i]][turns];
      out[i * width + jj] = grid[si * width + sj];
    }
  }
  return out;
}

// Carve decoders' braid levels add every link whose p_open reaches this (daedalus.runtime.decodings).
export const CARVE_BRAID_PREFERENCE = 0.75;

/**
 * The carve walk (docs/formats.md "Carve decoders"): depth-first from the start cell, always to the unvisited
 * neighbour with the highest score (ties: up, right, down, left), back when there is none. A port of
 * daedalus.maze.scored_carve.carve for one level.
 * @param {Float32Array} scores carve_scores [R*C*4] (up, right, down, left)
 * @param {number} rows R, @param {number} cols C
 * @param {number[]} start the start cell's grid position [row, col] (both even)
 * @returns {Uint8Array} the (2R x 2C) grid, row-major, 1 = open
 */
export function carveWalk(scores, rows, cols, start) {
  const DR = [-1, 0, 1, 0], DC = [0, 1, 0, -1];
  const cells = rows * cols;
  if (scores.length !== cells * 4) throw new Error(`carve_scores holds ${scores.length} numbers, not ${rows} x ${cols} x 4`);
  // Each cell's existing neighbours, best score first (a stable sort: ties in direction order).
  const order = new Int8Array(cells * 4).fill(-1);
  for (let cell = 0; cell < cells; cell++) {
    const r = Math.floor(cell / cols), c = cell % cols;
    const ways = [0, 1, 2, 3].filter((k) => r + DR[k] >= 0 && r + DR[k] < rows && c + DC[k] >= 0 && c + DC[k] < cols);
    for (const k of ways) if (Number.isNaN(scores[cell * 4 + k])) throw new Error(`carve_scores hold NaN at cell ${cell}`);
    ways.sort((a, b) => scores[cell * 4 + b] - scores[cell * 4 + a] || a - b);
    ways.forEach((k, i) => { order[cell * 4 + i] = k; });
  }
  const right = new Uint8Array(cells), down = new Uint8Array(cells);
  const visited = new Uint8Array(cells), next = new Uint8Array(cells);
  const stack = new Int32Array(cells);
  let top = 0;
  stack[0] = (start[0] / 2) * cols + start[1] / 2;
  visited[stack[0]] = 1;
  while (top >= 0) {
    const cell = stack[top];
    let moved = false;
    while (next[cell] < 4 && order[cell * 4 + next[cell]] >= 0) {
      const k = order[cell * 4 + next[cell]++];
      const to = cell + DR[k] * cols + DC[k];
      if (visited[to]) continue;
      visited[to] = 1;
      if (k === 0) down[to] = 1;
      else if (k === 1) right[cell] = 1;
      else if (k === 2) down[cell] = 1;
      else right[to] = 1;
      stack[++top] = to;
      moved = true;
      break;
    }
    if (!moved) top--;
  }
  return gridOf(right, down, rows, cols);
}

/** The text form (Level.to_text): one line a row, '#' wall, '.' floor, 'S' start, 'E' exit. */
export function levelText(grid, height, width, start, exit) {
  const lines = [];
  for (let r = 0; r < height; r++) {
    let line = "";
    for (let c = 0; c < width; c++) {
      if (r === start[0] && c === start[1]) line += "S";
      else if (r === exit[0] && c === exit[1]) line += "E";
      else line += grid[r * width + c] ? "." : "#";
    }
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}

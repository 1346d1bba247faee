"""The classic maze generators, as training corpora: one small class per algorithm behind one interface.

Every generator is a class with a registry ``name`` and one method::

    links(rows, cols, rng) -> np.ndarray   # bool, length num_links((2 * rows, 2 * cols))

which returns the open links of a perfect maze on ``rows × cols`` cells, in the order of ``grid.link_positions``
(horizontal links row-major, then vertical ones). ``generate`` turns the links into an ``(H, W)`` grid with
``grid.links_to_grid`` and optionally braids it. Randomness comes only from the ``numpy.random.Generator`` passed
in; the same generator state gives the same maze.

Inside the algorithms a cell is a flat index ``row * cols + col``. Draws are taken from the generator in blocks
(``rng.random(n).tolist()``): one Generator call per step would dominate the run time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np

from daedalus.errors import UsageError
from daedalus.maze.backtracker import as_generator, backtracker
from daedalus.maze.grid import DIRECTIONS, check_shape, grid_to_links, link_cells, links_to_grid, num_links

_CHUNK = 2048  # draws per block for the walks whose length is not known in advance


@lru_cache(maxsize=32)
def _neighbours(rows: int, cols: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """For each cell, its ``(neighbour, link index)`` pairs in the order up, right, down, left."""
    offset = rows * (cols - 1)  # the first vertical link
    table = []
    for cell in range(rows * cols):
        r, c = divmod(cell, cols)
        pairs = []
        if r > 0:
            pairs.append((cell - cols, offset + cell - cols))
        if c + 1 < cols:
            pairs.append((cell + 1, r * (cols - 1) + c))
        if r + 1 < rows:
            pairs.append((cell + cols, offset + cell))
        if c > 0:
            pairs.append((cell - 1, r * (cols - 1) + c - 1))
        table.append(tuple(pairs))
    return tuple(table)


@lru_cache(maxsize=32)
def _lazy_moves(rows: int, cols: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Aldous-Broder's walk table: index ``4 * cell + direction`` (up, right, down, left) gives ``4 * target``
    (the cell itself when the move leaves the grid) and the link crossed (−1 when it stays)."""
    offset = rows * (cols - 1)
    targets, links = [], []
    for cell in range(rows * cols):
        r, c = divmod(cell, cols)
        for ok, target, link in (
            (r > 0, cell - cols, offset + cell - cols),
            (c + 1 < cols, cell + 1, r * (cols - 1) + c),
            (r + 1 < rows, cell + cols, offset + cell),
            (c > 0, cell - 1, r * (cols - 1) + c - 1),
        ):
            targets.append(4 * (target if ok else cell))
            links.append(link if ok else -1)
    return tuple(targets), tuple(links)


def _as_links(opened: bytearray) -> np.ndarray:
    return np.frombuffer(bytes(opened), dtype=np.uint8).astype(bool)


class MazeGenerator:
    """The interface every generator implements (see the module docstring)."""

    name: ClassVar[str] = ""

    def links(self, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
        """The open links of one perfect maze on ``rows × cols`` cells (bool, ``grid.link_positions`` order)."""
        raise NotImplementedError


class Backtracker(MazeGenerator):
    """The recursive backtracker, exactly as ``daedalus.maze.backtracker`` (the seed's corpus).

    1. Start at cell ``(0, 0)``.
    2. Move to a random unvisited neighbour, opening the link; push the cell.
    3. When no neighbour is unvisited, pop back to the previous cell; stop when the stack is empty.

    Long winding corridors, few dead ends.
    """

    name = "backtracker"

    def links(self, rows, cols, rng):
        return grid_to_links(backtracker(2 * rows, 2 * cols, rng)).astype(bool)


class Prim(MazeGenerator):
    """Randomized Prim: grow one tree by a random frontier edge at a time.

    1. Put a random cell in the tree; its links to outside cells form the frontier.
    2. Take a frontier link uniformly at random and remove it from the frontier.
    3. If the cell beyond it is not in the tree yet, open the link, add the cell and put its links to outside
       cells on the frontier; otherwise drop the link.
    4. Repeat from 2 until every cell is in the tree.

    Short branches everywhere, many dead ends.
    """

    name = "prim"

    def links(self, rows, cols, rng):
        table = _neighbours(rows, cols)
        total = rows * cols
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        in_tree = bytearray(total)
        start = int(rng.integers(total))
        in_tree[start] = 1
        frontier = list(table[start])
        # Each link enters the frontier at most once, so one draw per link is enough.
        draws = rng.random(len(opened)).tolist()
        k = 0
        remaining = total - 1
        while remaining:
            i = int(draws[k] * len(frontier))
            k += 1
            cell, link = frontier[i]
            frontier[i] = frontier[-1]  # order does not matter: the pick is uniform
            frontier.pop()
            if in_tree[cell]:
                continue
            in_tree[cell] = 1
            opened[link] = 1
            remaining -= 1
            for pair in table[cell]:
                if not in_tree[pair[0]]:
                    frontier.append(pair)
        return _as_links(opened)


class Kruskal(MazeGenerator):
    """Randomized Kruskal: open links in random order unless they would close a loop.

    1. Every cell is its own set (a union-find forest).
    2. Shuffle all links.
    3. For each link in that order: if its two cells are in different sets, open it and merge the sets.
    4. Stop when ``cells − 1`` links are open.
    """

    name = "kruskal"

    def links(self, rows, cols, rng):
        a, b = link_cells((2 * rows, 2 * cols))
        order = rng.permutation(len(a))
        a, b = a[order].tolist(), b[order].tolist()
        parent = list(range(rows * cols))
        opened = bytearray(len(order))
        needed = rows * cols - 1
        for link, x, y in zip(order.tolist(), a, b):
            while parent[x] != x:
                parent[x] = x = parent[parent[x]]
            while parent[y] != y:
                parent[y] = y = parent[parent[y]]
            if x != y:
                parent[x] = y
                opened[link] = 1
                needed -= 1
                if not needed:
                    break
        return _as_links(opened)


class Wilson(MazeGenerator):
    """Wilson's algorithm: a uniform spanning tree from loop-erased random walks.

    1. Put a random cell in the tree.
    2. Take the next cell (row-major) not in the tree and walk at random from it until the walk hits the tree,
       remembering for each cell the last direction it left by (this erases the loops).
    3. Retrace the walk from its start by those directions, adding every cell and link on the way to the tree.
    4. Repeat from 2 until every cell is in the tree.
    """

    name = "wilson"

    def links(self, rows, cols, rng):
        table = _neighbours(rows, cols)
        total = rows * cols
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        in_tree = bytearray(total)
        in_tree[int(rng.integers(total))] = 1
        next_cell = [0] * total
        next_link = [0] * total
        draws: list[float] = []
        k = 0
        for start in range(total):
            cell = start
            while not in_tree[cell]:
                if k == len(draws):
                    draws, k = rng.random(_CHUNK).tolist(), 0
                pairs = table[cell]
                target, link = pairs[int(draws[k] * len(pairs))]
                k += 1
                next_cell[cell] = target
                next_link[cell] = link
                cell = target
            cell = start
            while not in_tree[cell]:
                in_tree[cell] = 1
                opened[next_link[cell]] = 1
                cell = next_cell[cell]
        return _as_links(opened)


class AldousBroder(MazeGenerator):
    """Aldous-Broder: a uniform spanning tree from one random walk.

    1. Start the walk at a random cell and mark it visited.
    2. Pick one of the four directions uniformly. If it leaves the grid, stay put (the moves the walk does make
       are still those of the simple random walk, so the tree is still uniform; staying is cheaper than
       drawing among fewer directions at the border).
    3. Entering a cell not yet visited opens the link just crossed and marks the cell.
    4. Repeat from 2 until every cell is visited.
    """

    name = "aldous-broder"

    def links(self, rows, cols, rng):
        targets, crossed = _lazy_moves(rows, cols)
        total = rows * cols
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        visited = bytearray(4 * total)  # indexed by 4 * cell, like the walk's state
        state = 4 * int(rng.integers(total))
        visited[state] = 1
        remaining = total - 1
        while remaining:
            for direction in rng.integers(0, 4, size=_CHUNK, dtype=np.int8).tolist():
                index = state + direction
                state = targets[index]
                if not visited[state]:
                    visited[state] = 1
                    opened[crossed[index]] = 1
                    remaining -= 1
                    if not remaining:
                        break
        return _as_links(opened)


class Eller(MazeGenerator):
    """Eller's algorithm: one row at a time, keeping only the current row's sets.

    1. Give every cell of the first row its own set.
    2. Join horizontally neighbouring cells of different sets with probability 1/2 (on the last row: always),
       merging their sets.
    3. For each set, open the link down from each of its cells with probability 1/2, and from one random cell
       when none was picked; the cells below keep the set, the other cells of the next row get new sets.
    4. Repeat from 2 on the next row; the last row ends after step 2.
    """

    name = "eller"

    def links(self, rows, cols, rng):
        offset = rows * (cols - 1)
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        draws = rng.random(3 * rows * cols).tolist()
        k = 0
        sets = list(range(cols))
        fresh = cols
        for r in range(rows):
            last = r == rows - 1
            for c in range(cols - 1):
                left, right = sets[c], sets[c + 1]
                if left == right:
                    continue
                join = last or draws[k] < 0.5
                k += 1
                if join:
                    opened[r * (cols - 1) + c] = 1
                    sets = [left if s == right else s for s in sets]
            if last:
                break
            members: dict[int, list[int]] = {}
            for c, s in enumerate(sets):
                members.setdefault(s, []).append(c)
            below = [-1] * cols
            for s, columns in members.items():
                down = [c for j, c in enumerate(columns) if draws[k + j] < 0.5]
                k += len(columns)
                if not down:
                    down = [columns[int(draws[k] * len(columns))]]
                    k += 1
                for c in down:
                    opened[offset + r * cols + c] = 1
                    below[c] = s
            for c in range(cols):
                if below[c] < 0:
                    below[c] = fresh
                    fresh += 1
            sets = below
        return _as_links(opened)


class Sidewinder(MazeGenerator):
    """Sidewinder: runs along each row, each run opening one link up.

    1. Open the whole top row.
    2. On every other row, from left to right, extend the current run east with probability 1/2 (never past
       the last column).
    3. When a run ends, open the link up from one random cell of the run and start a new run.

    The top row is one long corridor; every path leads up to it.
    """

    name = "sidewinder"

    def links(self, rows, cols, rng):
        offset = rows * (cols - 1)
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        opened[: cols - 1] = b"\x01" * (cols - 1)
        draws = rng.random(2 * rows * cols).tolist()
        k = 0
        for r in range(1, rows):
            run = 0
            for c in range(cols):
                if c + 1 < cols and draws[k] < 0.5:
                    opened[r * (cols - 1) + c] = 1
                else:
                    up = run + int(draws[k + 1] * (c - run + 1))
                    opened[offset + (r - 1) * cols + up] = 1
                    run = c + 1
                k += 2
        return _as_links(opened)


class BinaryTree(MazeGenerator):
    """Binary tree: every cell opens its link up or its link right.

    1. For each cell, choose up or right with probability 1/2.
    2. On the top row only right is possible, in the last column only up; the top-right cell opens nothing.

    Every path leads to the top-right corner; the top row and the last column are long corridors.
    """

    name = "binary-tree"

    def links(self, rows, cols, rng):
        up = rng.random((rows, cols)) < 0.5
        up[0, :] = False
        up[1:, -1] = True
        right = ~up[:, :-1]
        return np.concatenate([right.ravel(), up[1:, :].ravel()])


class HuntAndKill(MazeGenerator):
    """Hunt-and-kill: a random walk that, when stuck, hunts for a new place to start.

    1. Start at a random cell.
    2. Walk to a random unvisited neighbour, opening the link; repeat while there is one.
    3. When stuck, scan the cells in row-major order for the first unvisited cell next to a visited one, open
       the link to one of its visited neighbours at random, and walk on from there (step 2).
    4. Stop when every cell is visited.

    Long corridors like the backtracker's, without its stack.
    """

    name = "hunt-and-kill"

    def links(self, rows, cols, rng):
        table = _neighbours(rows, cols)
        total = rows * cols
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        visited = bytearray(total)
        cell = int(rng.integers(total))
        visited[cell] = 1
        draws = rng.random(total - 1).tolist()  # one per cell added, walked to or hunted
        first = 0  # every cell before it is visited
        for draw in draws:
            options = [pair for pair in table[cell] if not visited[pair[0]]]
            if options:
                cell, link = options[int(draw * len(options))]
            else:
                while visited[first]:
                    first += 1
                for cell in range(first, total):
                    if not visited[cell]:
                        options = [pair for pair in table[cell] if visited[pair[0]]]
                        if options:
                            break
                link = options[int(draw * len(options))][1]
            visited[cell] = 1
            opened[link] = 1
        return _as_links(opened)


class GrowingTree(MazeGenerator):
    """Growing tree: a list of active cells, grown from the newest or a random one.

    1. Put a random cell in the active list.
    2. Choose an active cell: the newest with probability ``newest`` (default 1/2), otherwise a uniformly random
       one.
    3. If it has unvisited neighbours, open the link to a random one and append that cell to the list;
       otherwise remove the chosen cell from the list.
    4. Repeat from 2 until every cell is visited.

    ``newest = 1`` is the backtracker's style, ``newest = 0`` close to Prim's.
    """

    name = "growing-tree"

    def __init__(self, newest: float = 0.5):
        if not 0.0 <= newest <= 1.0:
            raise UsageError(f"growing-tree newest must be in [0, 1], got {newest!r}")
        self.newest = float(newest)

    def links(self, rows, cols, rng):
        table = _neighbours(rows, cols)
        total = rows * cols
        opened = bytearray(num_links((2 * rows, 2 * cols)))
        visited = bytearray(total)
        start = int(rng.integers(total))
        visited[start] = 1
        active = [start]
        # At most 2 * total steps (each adds a cell or removes one), three draws each.
        draws = rng.random(6 * total).tolist()
        k = 0
        newest = self.newest
        remaining = total - 1
        while remaining:
            i = len(active) - 1 if draws[k] < newest else int(draws[k + 1] * len(active))
            cell = active[i]
            options = [pair for pair in table[cell] if not visited[pair[0]]]
            if options:
                target, link = options[int(draws[k + 2] * len(options))]
                visited[target] = 1
                opened[link] = 1
                active.append(target)
                remaining -= 1
            else:
                active.pop(i)
            k += 3
        return _as_links(opened)


class RecursiveDivision(MazeGenerator):
    """Recursive division: start from an open room and split it by walls with one gap each.

    1. Open every link: the whole grid is one chamber.
    2. Take a chamber at least two cells high and wide. Split it across its longer side (either way when square)
       at a random line between two rows (or columns), closing every link across that line but one at random.
    3. Repeat step 2 on both halves until no chamber is at least 2 × 2.

    Long straight walls; the grid's structure shows at every scale.
    """

    name = "recursive-division"

    def links(self, rows, cols, rng):
        across = np.ones((rows, cols - 1), dtype=bool)  # horizontal links: between columns c and c + 1
        down = np.ones((rows - 1, cols), dtype=bool)  # vertical links: between rows r and r + 1
        draws = rng.random(3 * rows * cols).tolist()
        k = 0
        chambers = [(0, 0, rows, cols)]
        while chambers:
            r0, c0, height, width = chambers.pop()
            if height < 2 or width < 2:
                continue
            split_rows = height > width or (height == width and draws[k + 2] < 0.5)
            if split_rows:
                line = r0 + 1 + int(draws[k] * (height - 1))  # first row of the lower half
                gap = c0 + int(draws[k + 1] * width)
                down[line - 1, c0 : c0 + width] = False
                down[line - 1, gap] = True
                chambers += [(r0, c0, line - r0, width), (line, c0, r0 + height - line, width)]
            else:
                line = c0 + 1 + int(draws[k] * (width - 1))  # first column of the right half
                gap = r0 + int(draws[k + 1] * height)
                across[r0 : r0 + height, line - 1] = False
                across[gap, line - 1] = True
                chambers += [(r0, c0, height, line - c0), (r0, line, height, c0 + width - line)]
            k += 3
        return np.concatenate([across.ravel(), down.ravel()])


GENERATORS: dict[str, type[MazeGenerator]] = {
    cls.name: cls
    for cls in (
        Backtracker, Prim, Kruskal, Wilson, AldousBroder, Eller, Sidewinder, BinaryTree, HuntAndKill, GrowingTree,
        RecursiveDivision,
    )
}


def generator(name: str) -> MazeGenerator:
    """The generator registered as ``name``, with its default settings.

    Raises:
        UsageError: naming the value and listing the valid names.
    """
    try:
        return GENERATORS[name]()
    except (KeyError, TypeError):
        raise UsageError(f"unknown maze generator {name!r}; expected one of: {', '.join(GENERATORS)}") from None


def check_braid(p) -> float:
    """``p`` as a float when it is a number in ``[0, 1]``; UsageError naming it otherwise."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p <= 1.0:
        raise UsageError(f"braid probability must be a number in [0, 1], got {p!r}")
    return float(p)


def braid(grid: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Add loops: open one more link at each dead end with probability ``p``.

    1. List the dead ends: cells with exactly one open link, in row-major order.
    2. Draw one coin and one choice per dead end, up front.
    3. For each dead end in that order: skip it if an earlier opening has already given it a second link;
       otherwise, when its coin is below ``p``, open one of its closed links to in-grid neighbours, chosen
       uniformly.

    Args:
        grid: one lattice maze ``(H, W)``; it is not modified.
        p: probability in ``[0, 1]``; ``0`` returns a copy and draws nothing from ``rng``.
        rng: a ``numpy.random.Generator`` (or an int seed).

    Returns:
        The braided ``(H, W)`` uint8 grid.
    """
    p = check_braid(p)
    grid = np.array(grid, dtype=np.uint8)
    if grid.ndim != 2:
        raise UsageError(f"braid takes one grid (H, W), got an array of shape {grid.shape}")
    try:
        check_shape(*grid.shape)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if p == 0.0:
        return grid
    rng = as_generator(rng)
    cells = grid[::2, ::2][: grid.shape[0] // 2, : grid.shape[1] // 2]
    rows, cols = cells.shape
    # Open links around each cell (a link at the grid's last row or column is wall by the lattice rule).
    up = np.zeros((rows, cols), dtype=np.int8)
    up[1:] = grid[1 : 2 * rows - 1 : 2, 0 : 2 * cols : 2] != 0
    left = np.zeros((rows, cols), dtype=np.int8)
    left[:, 1:] = grid[0 : 2 * rows : 2, 1 : 2 * cols - 1 : 2] != 0
    down = np.zeros((rows, cols), dtype=np.int8)
    down[:-1] = up[1:]
    right = np.zeros((rows, cols), dtype=np.int8)
    right[:, :-1] = left[:, 1:]
    degree = up + left + down + right
    dead = np.flatnonzero((degree == 1) & (cells != 0))
    if dead.size == 0:
        return grid
    coins = rng.random(dead.size).tolist()
    choices = rng.random(dead.size).tolist()
    degree = degree.ravel().tolist()
    for cell, coin, choice in zip(dead.tolist(), coins, choices):
        if degree[cell] != 1 or coin >= p:
            continue
        r, c = divmod(cell, cols)
        closed = [
            (dr, dc)
            for dr, dc in DIRECTIONS
            if 0 <= r + dr < rows and 0 <= c + dc < cols and not grid[2 * r + dr, 2 * c + dc]
        ]
        if not closed:
            continue
        dr, dc = closed[int(choice * len(closed))]
        grid[2 * r + dr, 2 * c + dc] = 1
        degree[cell] += 1
        degree[(r + dr) * cols + c + dc] += 1
    return grid


def generate(name: str, height: int, width: int, rng: np.random.Generator, braid: float = 0.0) -> np.ndarray:
    """One maze from the generator registered as ``name``.

    Args:
        name: a key of ``GENERATORS``.
        height, width: grid size, even and ≥ 4.
        rng: a ``numpy.random.Generator`` (or an int seed); the same state gives the same maze.
        braid: probability of opening one more link at each dead end (``braid``); 0 keeps the maze perfect and
            draws nothing more from ``rng``.

    Returns:
        ``(height, width)`` uint8 grid, 1 = open floor.
    """
    maker = generator(name)
    p = check_braid(braid)
    shape = _check_size(height, width)
    rng = as_generator(rng)
    grid = links_to_grid(maker.links(shape[0] // 2, shape[1] // 2, rng), shape)
    return _braid(grid, p, rng) if p else grid


_braid = braid  # ``generate``'s argument ``braid`` hides the function


def generate_batch(
    name: str, count: int, height: int, width: int, rng: np.random.Generator, braid: float = 0.0,
    progress: bool = False,
) -> np.ndarray:
    """``count`` mazes drawn in order from one generator: ``(count, height, width)`` uint8.

    ``generate_batch("backtracker", n, h, w, rng)`` equals ``backtracker_batch(n, h, w, rng)``. ``progress``
    shows a tqdm bar.
    """
    maker = generator(name)
    p = check_braid(braid)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise UsageError(f"count must be a non-negative integer, got {count!r}")
    height, width = _check_size(height, width)
    rng = as_generator(rng)
    rows, cols = height // 2, width // 2
    steps = range(int(count))
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=name, unit="maze", leave=False)
    grids = np.empty((int(count), height, width), dtype=np.uint8)
    for i in steps:
        grids[i] = links_to_grid(maker.links(rows, cols, rng), (height, width))
        if p:
            grids[i] = _braid(grids[i], p, rng)
    return grids


def _check_size(height, width) -> tuple[int, int]:
    try:
        return check_shape(height, width)
    except ValueError as error:
        raise UsageError(str(error)) from None


__all__ = ["GENERATORS", "MazeGenerator", "braid", "check_braid", "generate", "generate_batch", "generator"]

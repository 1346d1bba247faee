"""The maze core (numpy + scipy): the grid convention, the classic generators, checks, statistics and drawing.

Everything else in Daedalus — trainer, repair, runtime, game, benchmarks — builds on these names.
"""

from daedalus.maze.backtracker import as_generator, backtracker, backtracker_batch, carve_frames
from daedalus.maze.generators import GENERATORS, braid, generate, generate_batch
from daedalus.maze.grid import (
    DEFAULT_SIZE,
    LATTICE_RULE,
    OPEN,
    WALL,
    as_batch,
    cell_mask,
    cell_positions,
    cell_shape,
    check_shape,
    default_exit,
    default_start,
    furthest_open,
    grid_to_links,
    link_cells,
    link_mask,
    link_positions,
    links_to_grid,
    num_links,
    wall_mask,
)
from daedalus.maze.stats import (
    STAT_NAMES,
    batch_stats,
    border_corridor,
    corridor_lengths,
    dead_ends,
    degrees,
    distances,
    distinct_fraction,
    is_lattice,
    is_perfect,
    is_solvable,
    junctions,
    level_stats,
    loops,
    mean_corridor_length,
    pieces,
    solution_length,
    straights,
    summarize,
    turns,
)

__all__ = [name for name in dir() if not name.startswith("_")]

/* Compiled statistics for the target search (daedalus.maze.stats.attributes): for each grid of a batch, the
 * solution length, the longest path between two open cells, dead ends, junctions and loops, exactly as the numpy
 * functions of daedalus/maze/stats.py define them (tests/test_targets.py checks that the two agree).
 *
 * One function, attributes(grids, starts, exits, out, count, height, width, longest): grids a C-contiguous uint8
 * (N, H, W) buffer, starts and exits int64 (N, 2), out int64 (N, 5) written in the order of ATTRIBUTE_ORDER in
 * stats.py (the longest path -1 unless `longest`). The Python wrapper checks dtypes, shapes and bounds; this file
 * trusts them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A grid copied into a frame one position wide, so that the four neighbours of p are p - 1, p + 1, p - stride
 * and p + stride without bounds checks. */
typedef struct {
    int height, width, stride, size;  /* size: positions of the padded grid */
    uint8_t *open;                    /* padded, 0 on the frame */
    uint8_t *cell;                    /* padded: 1 on even-even positions of the grid */
    int32_t *queue;
    int32_t *dist;                    /* -1 unvisited */
    int32_t *mark;                    /* piece marks */
} Grid;

static inline int padded(const Grid *g, int r, int c) { return (r + 1) * g->stride + c + 1; }

/* Breadth-first search from `source`. Returns how many positions were reached (they are g->queue[0..n) and keep
 * their distance in g->dist until reset). *far_cell / *far_dist: the first cell in row-major order at the largest
 * distance among the reached cells. */
static int bfs(Grid *g, int source, int *far_cell, int *far_dist) {
    const int stride = g->stride;
    const uint8_t *open = g->open, *cell = g->cell;
    int32_t *queue = g->queue, *dist = g->dist;
    int head = 0, tail = 0, best = -1, best_d = -1;
    queue[tail++] = source;
    dist[source] = 0;
    while (head < tail) {
        int p = queue[head++];
        int d = dist[p];
        if (cell[p] && (d > best_d || (d == best_d && p < best))) {
            best_d = d;
            best = p;
        }
#define VISIT(q)                              \
        if (open[q] && dist[q] < 0) {             \
            dist[q] = d + 1;                      \
            queue[tail++] = q;                    \
        }
        VISIT(p - stride)
        VISIT(p + stride)
        VISIT(p - 1)
        VISIT(p + 1)
#undef VISIT
    }
    *far_cell = best;
    *far_dist = best_d;
    return tail;
}

static void reset(Grid *g, int reached) {
    for (int i = 0; i < reached; i++) g->dist[g->queue[i]] = -1;
}

/* The eccentricity of p over cells: the largest distance from p to a reached cell. */
static int eccentricity(Grid *g, int p) {
    int far, far_d;
    reset(g, bfs(g, p, &far, &far_d));
    return far_d;
}

/* The largest distance between two cells of the one piece holding `first` (a cell), with the iterative fringe
 * upper bound (iFUB): from a central position u, every pair within distance i - 1 of u is at most 2 (i - 1) apart,
 * so the cells farthest from u are searched from first, level by level, until the bound proves the best pair. */
static int piece_diameter(Grid *g, int first) {
    int far, far_d, b, c, d_bc;
    reset(g, bfs(g, first, &b, &far_d));
    int reached = bfs(g, b, &c, &d_bc);
    /* u: the middle of the path from b to c, walking back from c along decreasing distances. */
    int u = c, stride = g->stride;
    for (int step = 0; step < d_bc / 2; step++) {
        int next[4] = {u - stride, u + stride, u - 1, u + 1};
        for (int k = 0; k < 4; k++)
            if (g->open[next[k]] && g->dist[next[k]] == g->dist[u] - 1) {
                u = next[k];
                break;
            }
    }
    reset(g, reached);
    reached = bfs(g, u, &far, &far_d);
    /* The cells reached from u, sorted by distance from u (the queue is in that order already). */
    int32_t *order = g->mark;  /* reuse: the pieces are counted before */
    int32_t *level = g->mark + g->size;
    int cells = 0;
    for (int i = 0; i < reached; i++) {
        int p = g->queue[i];
        if (g->cell[p]) {
            order[cells] = p;
            level[cells] = g->dist[p];
            cells++;
        }
    }
    reset(g, reached);
    int lower = d_bc, i = cells - 1;
    while (i >= 0) {
        int depth = level[i];
        if (lower >= 2 * depth) break;  /* every pair left is within 2 * depth */
        for (; i >= 0 && level[i] == depth; i--) {
            int e = eccentricity(g, order[i]);
            if (e > lower) lower = e;
        }
        if (lower > 2 * (depth - 1)) break;
    }
    return lower;
}

static void one_grid(Grid *g, const uint8_t *grid, int64_t start, int64_t exit, int want_longest, int64_t *out) {
    const int width = g->width, height = g->height;
    int64_t positions = 0, edges = 0, dead = 0, junctions = 0, pieces = 0;
    int first_cell = -1;
    for (int r = 0; r < height; r++)
        for (int c = 0; c < width; c++) g->open[padded(g, r, c)] = grid[r * width + c] != 0;
    const uint8_t *open = g->open;
    const int stride = g->stride;
    for (int r = 0; r < height; r++) {
        for (int c = 0; c < width; c++) {
            int p = padded(g, r, c);
            if (!open[p]) continue;
            int degree = open[p - stride] + open[p + stride] + open[p - 1] + open[p + 1];
            positions++;
            edges += open[p + stride] + open[p + 1];
            dead += degree == 1;
            if (g->cell[p]) {
                junctions += degree >= 3;
                if (first_cell < 0) first_cell = p;
            }
        }
    }
    int far, far_d, start_far = -1;
    int s = padded(g, (int)(start / width), (int)(start % width));
    int e = padded(g, (int)(exit / width), (int)(exit % width));
    int64_t solution = -1;
    if (open[s]) {
        int reached = bfs(g, s, &start_far, &far_d);
        if (open[e]) solution = g->dist[e];
        reset(g, reached);
        if (reached == positions) pieces = 1;  /* the start reaches every open position: one piece */
    }
    if (!pieces) {
        int32_t *mark = g->mark;
        memset(mark, 0, sizeof(int32_t) * g->size);
        for (int r = 0; r < height; r++) {
            for (int c = 0; c < width; c++) {
                int p = padded(g, r, c);
                if (!open[p] || mark[p]) continue;
                pieces++;
                int reached = bfs(g, p, &far, &far_d);
                for (int i = 0; i < reached; i++) mark[g->queue[i]] = 1;
                reset(g, reached);
            }
        }
    }
    int64_t loops = edges - positions + pieces;
    int64_t longest = want_longest ? 0 : -1;  /* -1: not asked for (the costliest of the five) */
    if (want_longest && first_cell >= 0) {
        if (pieces == 1 && loops == 0) {
            /* A tree: the cell farthest from any cell ends a longest path. */
            int b = start_far;  /* any cell's farthest cell will do: the start's when it is a cell */
            if (!(open[s] && g->cell[s])) reset(g, bfs(g, first_cell, &b, &far_d));
            longest = eccentricity(g, b);
        } else if (pieces == 1) {
            longest = piece_diameter(g, first_cell);
        } else {
            /* Several pieces: a search from every open cell (cells of different pieces are not connected). */
            for (int r = 0; r < height; r += 2)
                for (int c = 0; c < width; c += 2) {
                    int p = padded(g, r, c);
                    if (!open[p]) continue;
                    int ecc = eccentricity(g, p);
                    if (ecc > longest) longest = ecc;
                }
        }
    }
    out[0] = solution;
    out[1] = longest;
    out[2] = dead;
    out[3] = junctions;
    out[4] = loops;
}

static PyObject *attributes(PyObject *self, PyObject *args) {
    Py_buffer grids, starts, exits, out;
    Py_ssize_t count;
    int height, width, want_longest;
    if (!PyArg_ParseTuple(args, "y*y*y*w*niip", &grids, &starts, &exits, &out, &count, &height, &width,
                          &want_longest))
        return NULL;
    PyObject *result = NULL;
    const Py_ssize_t size = (Py_ssize_t)height * width;
    if (height < 1 || width < 1 || grids.len != count * size || starts.len != count * 16 ||
        exits.len != count * 16 || out.len != count * 40) {
        PyErr_SetString(PyExc_ValueError, "attributes: buffer sizes disagree with count, height and width");
        goto done;
    }
    Grid g;
    g.height = height;
    g.width = width;
    g.stride = width + 2;
    g.size = (height + 2) * (width + 2);
    g.open = calloc(g.size, 1);
    g.cell = calloc(g.size, 1);
    g.queue = malloc(sizeof(int32_t) * g.size);
    g.dist = malloc(sizeof(int32_t) * g.size);
    g.mark = malloc(sizeof(int32_t) * 2 * g.size);
    if (!g.open || !g.cell || !g.queue || !g.dist || !g.mark) {
        free(g.open);
        free(g.cell);
        free(g.queue);
        free(g.dist);
        free(g.mark);
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < g.size; i++) g.dist[i] = -1;
    for (int r = 0; r < height; r += 2)
        for (int c = 0; c < width; c += 2) g.cell[padded(&g, r, c)] = 1;
    const int64_t *s = starts.buf, *e = exits.buf;
    int64_t *o = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t n = 0; n < count; n++) {
        one_grid(&g, (const uint8_t *)grids.buf + n * size, s[2 * n] * width + s[2 * n + 1],
                 e[2 * n] * width + e[2 * n + 1], want_longest, o + 5 * n);
    }
    Py_END_ALLOW_THREADS
    free(g.open);
    free(g.cell);
    free(g.queue);
    free(g.dist);
    free(g.mark);
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyBuffer_Release(&grids);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&exits);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"attributes", attributes, METH_VARARGS,
     "attributes(grids, starts, exits, out, count, height, width, longest): solution length, longest path (-1 "
     "unless longest), dead ends, junctions and loops of each grid into out (int64 (count, 5))."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stats", NULL, -1, methods};

PyMODINIT_FUNC PyInit__stats(void) { return PyModule_Create(&module); }

/* The raster walk (daedalus.maze.raster_walk) compiled: the same choices, bit for bit, as the numpy reference.
 *
 * One function, walk(), over a batch: cell_logits (count, rows, cols, 4), context_mix (count, mix), context_basis
 * (16384 * groups, mix, 4) for one or two context groups, all float32 (what a decoder returns), uniforms float64 (count, rows * cols), and an output buffer uint8
 * (count, 2 * rows, 2 * cols); for a decoder with a window network also its per-level biases, flat weights, hidden
 * widths and first-layer tables (window_net_scores; empty buffers and () without one). The arithmetic follows
 * docs/formats.md ("The raster walk") in float64: a score is
 * cell_logit + (sum over groups g, then j, in order of mix_j * basis_gj); weights exp(score - max) over the allowed options; the first
 * option whose running sum exceeds u * total, else the last allowed one. A non-finite score stops the walk and is
 * reported (the decoder is broken; the wrapper raises). The GIL is released while it walks, so a
 * decode on another thread overlaps it. The Python wrapper checks shapes and dtypes; this file re-checks buffer sizes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

#define OPTIONS 4
#define CONTEXT_BITS 14
#define CONTEXTS (1 << CONTEXT_BITS)
#define TOP 3
#define LEFT 4
#define RIGHT 4
#define MAX_SIDE 512
/* The window network (docs/formats.md step 4; daedalus.maze.raster_walk.WINDOW_BITS): the links of rows r-3..r and
 * columns c-4..c+4 decided before the cell, in segments of one row and one kind (each row above: right links at
 * c-4..c+4, then down links; the cell's row: right links at c-4..c-1, then down links), then three set bits. Each
 * segment is kept as an integer (its j-th link is bit j) that slides one column per cell. */
#define WINDOW_UP 3
#define WINDOW_SIDE 4
#define WINDOW_SEGMENTS (2 * WINDOW_UP + 2)
#define WINDOW_GROUP_COUNT (WINDOW_SEGMENTS + 1)
#define WINDOW_INPUTS (2 * WINDOW_UP * (2 * WINDOW_SIDE + 1) + 2 * WINDOW_SIDE + 3)
#define MAX_WINDOW_WIDTH 1024
#define MAX_WINDOW_LAYERS 8
/* Where each group's table starts among the first layer's tables (2^bits rows a group): six of 9 bits, two of 4, the
 * three set bits. */
static const int TABLE_START[WINDOW_GROUP_COUNT] = {0, 512, 1024, 1536, 2048, 2560, 3072, 3088, 3104};
#define WINDOW_TABLE_ROWS 3112

typedef struct {
    int rows, cols, stride, loops;
    unsigned char *right, *down; /* (rows + TOP) x stride, stride = cols + LEFT + RIGHT */
    int label[MAX_SIDE], has_down[MAX_SIDE], last[MAX_SIDE], fresh[2 * MAX_SIDE];
} Walk;

static inline unsigned char link_at(const unsigned char *links, const Walk *w, int r, int c) {
    return links[(r + TOP) * w->stride + c + LEFT];
}

static void start_row(Walk *w, int r) {
    int cols = w->cols;
    /* Cells not joined from above get a new set; then each set is named by its leftmost cell in the row. */
    for (int c = 0; c < cols; c++) {
        if (r == 0) w->label[c] = c;
        else if (!link_at(w->down, w, r - 1, c)) w->label[c] = cols + c;
    }
    for (int i = 0; i < 2 * cols; i++) w->fresh[i] = -1;
    for (int c = 0; c < cols; c++) {
        int old = w->label[c];
        if (w->fresh[old] < 0) w->fresh[old] = c;
        w->label[c] = w->fresh[old];
        w->has_down[c] = 0;
        w->last[w->label[c]] = c; /* the rightmost cell of each set in the row */
    }
}

/* score[o] = sum over the groups' rows g, then j, in order, of (double)weights[j] * (double)rows[g][j * 4 + o]:
 * two options per SSE2 register where there is SSE2 (every x86-64), the same operations one by one elsewhere -- the
 * same bits either way. */
static inline void mix_scores(const float *weights, const float *const *rows, int groups, int mix, double *score) {
#if defined(__SSE2__) || defined(_M_X64)
    __m128d low = _mm_setzero_pd(), high = _mm_setzero_pd();
    for (int g = 0; g < groups; g++) {
        const float *basis = rows[g];
        for (int j = 0; j < mix; j++) {
            __m128d weight = _mm_set1_pd((double)weights[j]);
            __m128 row = _mm_loadu_ps(basis + j * OPTIONS);
            low = _mm_add_pd(low, _mm_mul_pd(weight, _mm_cvtps_pd(row)));
            high = _mm_add_pd(high, _mm_mul_pd(weight, _mm_cvtps_pd(_mm_movehl_ps(row, row))));
        }
    }
    _mm_storeu_pd(score, low);
    _mm_storeu_pd(score + 2, high);
#else
    score[0] = score[1] = score[2] = score[3] = 0.0;
    for (int g = 0; g < groups; g++) {
        const float *basis = rows[g];
        for (int j = 0; j < mix; j++) {
            double weight = (double)weights[j];
            for (int o = 0; o < OPTIONS; o++) score[o] += weight * (double)basis[j * OPTIONS + o];
        }
    }
#endif
}

typedef struct {
    int layers;                       /* hidden layers; 0: no window network */
    int sizes[MAX_WINDOW_LAYERS + 2]; /* WINDOW_INPUTS, the hidden widths, OPTIONS */
    const float *bias, *weights;      /* (count, sizes[1]) per-level first-layer biases; the flat weights */
    const float *tables;              /* (WINDOW_TABLE_ROWS, sizes[1]): the first layer summed per group of bits */
    int stride;                       /* floats between two lanes' rows of h: the widest layer, padded so that the
                                         lanes' rows do not fall on the same cache sets */
} WindowNet;

/* LANES levels walk in lockstep, cell by cell. Each level's choices depend on its own earlier ones, so one level alone
 * is a chain of dependent loads and sums (the context's table rows, the window's layers); eight independent chains
 * side by side keep the memory and the floating-point units busy. Each level's arithmetic is exactly what it is
 * alone: the same operations in the same order, so the same bits. */
#define LANES 8

typedef struct {
    Walk w;
    Py_ssize_t level;
    const float *cells, *weights;
    const double *u;
    unsigned segments[WINDOW_GROUP_COUNT];
    /* the cell's state between the phases of one step */
    int same, set_has_down, later, allowed[OPTIONS];
    const float *basis[2];
    const float *rows[WINDOW_GROUP_COUNT];
    int bad; /* the first cell whose scores are not finite, or -1 */
} Lane;

#if defined(__SSE2__) || defined(_M_X64)
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define PREFETCH(p) ((void)(p))
#endif

static inline void prefetch_span(const float *start, size_t floats) {
    const char *p = (const char *)start, *end = (const char *)(start + floats);
    for (; p < end; p += 64) PREFETCH(p);
}

#if defined(__SSE2__) || defined(_M_X64)
/* Units o..o+3 of one layer for `count` lanes from h's rows on: independent sums side by side. Called with constant
 * counts (LANES, 4, 1), which the compiler specialises, so acc stays in registers. */
static inline void dense_units(const float *weights, const float *b, int inputs, int outputs, int o, int last,
                               const float *h, float *next, int stride, int count) {
    __m128 acc[LANES];
    for (int j = 0; j < count; j++) acc[j] = _mm_loadu_ps(b + o);
    for (int i = 0; i < inputs; i++) {
        __m128 w = _mm_loadu_ps(weights + (size_t)i * outputs + o);
        for (int j = 0; j < count; j++)
            acc[j] = _mm_add_ps(acc[j], _mm_mul_ps(_mm_set1_ps(h[(size_t)j * stride + i]), w));
    }
    for (int j = 0; j < count; j++)
        _mm_storeu_ps(next + (size_t)j * stride + o, last ? acc[j] : _mm_max_ps(acc[j], _mm_setzero_ps()));
}
#endif

/* The window network's four scores at one cell for every lane, in float32 and the order docs/formats.md fixes:
 * h = the level's bias plus the table row of each group of bits, in group order; then for each further layer, ReLU,
 * its bias, plus h_k * w_k for k in order. Every unit's sum runs in that order in its own SSE lane (four units per
 * register where there is SSE, one by one elsewhere: the same bits); -ffp-contract=off keeps products and sums
 * rounded one by one. h and next hold LANES rows of net->stride. */
static void window_net_scores(const WindowNet *net, Lane *lanes, int n, float *h, float *next,
                              float score[LANES][OPTIONS]) {
    int width = net->sizes[1];
    for (int l = 0; l < n; l++) {
        const float *const *rows = lanes[l].rows;
        const float *bias = net->bias + (size_t)lanes[l].level * width;
        float *hl = h + (size_t)l * net->stride;
        int k = 0;
#if defined(__SSE2__) || defined(_M_X64)
        for (; k + 4 <= width; k += 4) {
            __m128 acc = _mm_loadu_ps(bias + k);
            for (int g = 0; g < WINDOW_GROUP_COUNT; g++) acc = _mm_add_ps(acc, _mm_loadu_ps(rows[g] + k));
            _mm_storeu_ps(hl + k, _mm_max_ps(acc, _mm_setzero_ps()));
        }
#endif
        for (; k < width; k++) {
            float acc = bias[k];
            for (int g = 0; g < WINDOW_GROUP_COUNT; g++) acc = acc + rows[g][k];
            hl[k] = acc > 0.0f ? acc : 0.0f;
        }
    }
    /* h holds ReLU of the layer's sums from here on (the last layer's are the scores, no ReLU). */
    const float *at = net->weights + (size_t)WINDOW_INPUTS * width;
    for (int layer = 1; layer <= net->layers; layer++) {
        int inputs = net->sizes[layer], outputs = net->sizes[layer + 1], last = layer == net->layers;
        const float *weights = at, *b = at + (size_t)inputs * outputs;
        int o = 0;
#if defined(__SSE2__) || defined(_M_X64)
        for (; o + 4 <= outputs; o += 4) {
            int l = 0, stride = net->stride;
            for (; l + LANES <= n; l += LANES)
                dense_units(weights, b, inputs, outputs, o, last, h + (size_t)l * stride, next + (size_t)l * stride,
                            stride, LANES);
            for (; l + 4 <= n; l += 4)
                dense_units(weights, b, inputs, outputs, o, last, h + (size_t)l * stride, next + (size_t)l * stride,
                            stride, 4);
            for (; l < n; l++)
                dense_units(weights, b, inputs, outputs, o, last, h + (size_t)l * stride, next + (size_t)l * stride,
                            stride, 1);
        }
#endif
        for (; o < outputs; o++) {
            for (int l = 0; l < n; l++) {
                const float *hl = h + (size_t)l * net->stride;
                float acc = b[o];
                for (int i = 0; i < inputs; i++) acc = acc + hl[i] * weights[(size_t)i * outputs + o];
                next[(size_t)l * net->stride + o] = last || acc > 0.0f ? acc : 0.0f;
            }
        }
        for (int l = 0; l < n; l++)
            memcpy(h + (size_t)l * net->stride, next + (size_t)l * net->stride, sizeof(float) * outputs);
        at = b + outputs;
    }
    for (int l = 0; l < n; l++)
        for (int o = 0; o < OPTIONS; o++) score[l][o] = h[(size_t)l * net->stride + o];
}

/* The segment of row r + dr (dr < 0) and one kind at columns c-4..c+4, bit j for column c-4+j. */
static inline unsigned segment_at(const unsigned char *links, const Walk *w, int r, int c) {
    unsigned value = 0;
    for (int j = 0; j <= 2 * WINDOW_SIDE; j++) value |= (unsigned)link_at(links, w, r, c - WINDOW_SIDE + j) << j;
    return value;
}

typedef struct {
    const float *context_basis;
    int rows, cols, mix, groups, loops, closed_cells;
    double loop_bonus;
    const WindowNet *net;
} Walker;

/* Step one, for one lane at cell (r, c): read the context, the allowed options and the window's groups, and start
 * loading the table rows they name. */
static void read_cell(const Walker *k, Lane *lane, int r, int c) {
    Walk *w = &lane->w;
    int cols = k->cols, own = w->label[c], has_right = c < cols - 1, has_below = r < k->rows - 1;
    int same = has_right && own == w->label[c + 1];
    int set_has_down = w->has_down[own];
    int later = w->last[own] > c;
    lane->same = same; lane->set_has_down = set_has_down; lane->later = later;
    int context = link_at(w->down, w, r - 1, c)
        | link_at(w->right, w, r, c - 1) << 1
        | link_at(w->down, w, r - 1, c + 1) << 2
        | same << 3
        | set_has_down << 4
        | link_at(w->right, w, r, c - 2) << 5
        | link_at(w->down, w, r - 2, c) << 6
        | link_at(w->right, w, r - 1, c) << 7
        | later << 8
        | link_at(w->right, w, r - 1, c - 1) << 9
        | link_at(w->down, w, r, c - 1) << 10
        | link_at(w->down, w, r - 1, c - 1) << 11
        | link_at(w->down, w, r - 1, c + 2) << 12
        | link_at(w->right, w, r - 1, c + 1) << 13;
    int *allowed = lane->allowed;
    if (!has_right && !has_below) {
        allowed[0] = 1; allowed[1] = allowed[2] = allowed[3] = 0;
    } else {
        int right_ok = has_right && (!same || k->loops);
        allowed[0] = set_has_down || later;
        /* closed cells: a cell joined from neither above nor the left may close (it becomes wall) */
        if (k->closed_cells && (r || c) && !link_at(w->down, w, r - 1, c) && !link_at(w->right, w, r, c - 1))
            allowed[0] = 1;
        allowed[1] = right_ok;
        allowed[2] = has_below;
        allowed[3] = right_ok && has_below;
    }
    size_t row = (size_t)k->mix * OPTIONS;
    lane->basis[0] = k->context_basis + (size_t)context * row;
    prefetch_span(lane->basis[0], row);
    if (k->groups > 1) { /* docs/formats.md step 2, the second group (WIDE_CONTEXT_BITS) */
        int wide = link_at(w->right, w, r, c - 3)
            | link_at(w->down, w, r, c - 2) << 1
            | link_at(w->down, w, r - 2, c - 1) << 2
            | link_at(w->down, w, r - 2, c + 1) << 3
            | link_at(w->right, w, r - 2, c) << 4
            | link_at(w->right, w, r - 2, c - 1) << 5
            | link_at(w->right, w, r - 1, c + 2) << 6
            | link_at(w->down, w, r - 1, c - 2) << 7
            | link_at(w->down, w, r - 3, c) << 8
            | link_at(w->down, w, r - 1, c) << 9
            | link_at(w->right, w, r, c - 1) << 10
            | same << 11
            | set_has_down << 12
            | later << 13;
        lane->basis[1] = k->context_basis + ((size_t)CONTEXTS + wide) * row;
        prefetch_span(lane->basis[1], row);
    }
    const WindowNet *net = k->net;
    if (net->layers) {
        int width = net->sizes[1];
        lane->segments[WINDOW_SEGMENTS] = (unsigned)same | (unsigned)set_has_down << 1 | (unsigned)later << 2;
        for (int g = 0; g < WINDOW_GROUP_COUNT; g++) {
            lane->rows[g] = net->tables + ((size_t)TABLE_START[g] + lane->segments[g]) * width;
            prefetch_span(lane->rows[g], (size_t)width);
        }
    }
}

/* Step two, for one lane: the scores, the choice, and the walk's state after it. Returns 0 at a non-finite score. */
static int choose_cell(const Walker *k, Lane *lane, int r, int c, const float *window) {
    Walk *w = &lane->w;
    int cols = k->cols, has_right = c < cols - 1, same = lane->same;
    const int *allowed = lane->allowed;
    const float *cell = lane->cells + ((size_t)r * cols + c) * OPTIONS;
    double score[OPTIONS], top = -INFINITY;
    mix_scores(lane->weights, lane->basis, k->groups, k->mix, score);
    for (int o = 0; o < OPTIONS; o++) {
        score[o] = (double)cell[o] + score[o];
        if (window) score[o] += (double)window[o];
        if (k->loops && same && (o & 1)) score[o] += k->loop_bonus;
        if (allowed[o] && score[o] > top) top = score[o];
    }
    if (!isfinite(score[0] + score[1] + score[2] + score[3])) return 0;
    double cumulative[OPTIONS], total = 0.0;
    int last = 0;
    for (int o = 0; o < OPTIONS; o++) {
        /* exp(0) is exactly 1 in every libm: the best option's weight needs no call. */
        if (allowed[o]) { total += score[o] == top ? 1.0 : exp(score[o] - top); last = o; }
        cumulative[o] = total;
    }
    double threshold = lane->u[r * cols + c] * total;
    int option = 0;
    for (int o = 0; o < OPTIONS; o++) option += cumulative[o] <= threshold;
    if (option > last) option = last;
    int open_right = option & 1, open_down = option >> 1;
    w->right[(r + TOP) * w->stride + c + LEFT] = (unsigned char)open_right;
    w->down[(r + TOP) * w->stride + c + LEFT] = (unsigned char)open_down;
    if (open_right && has_right) {
        int a = w->label[c], bb = w->label[c + 1];
        if (a != bb) { /* names are not always leftmost cells after a merge: scan to last[bb] */
            for (int j = 0; j <= w->last[bb]; j++) if (w->label[j] == bb) w->label[j] = a;
            w->has_down[a] |= w->has_down[bb];
            if (w->last[bb] > w->last[a]) w->last[a] = w->last[bb];
        }
    }
    if (open_down) w->has_down[w->label[c]] = 1;
    if (k->net->layers) { /* slide every segment one column right */
        unsigned *segments = lane->segments;
        for (int dr = -WINDOW_UP; dr < 0; dr++) {
            int s = 2 * (dr + WINDOW_UP);
            segments[s] = segments[s] >> 1 | (unsigned)link_at(w->right, w, r + dr, c + 1 + WINDOW_SIDE) << 8;
            segments[s + 1] = segments[s + 1] >> 1 | (unsigned)link_at(w->down, w, r + dr, c + 1 + WINDOW_SIDE) << 8;
        }
        segments[2 * WINDOW_UP] = segments[2 * WINDOW_UP] >> 1 | (unsigned)open_right << (WINDOW_SIDE - 1);
        segments[2 * WINDOW_UP + 1] = segments[2 * WINDOW_UP + 1] >> 1 | (unsigned)open_down << (WINDOW_SIDE - 1);
    }
    return 1;
}

static void write_grid(const Walk *w, int closed_cells, unsigned char *grid) {
    int rows = w->rows, cols = w->cols, width = 2 * cols;
    memset(grid, 0, (size_t)2 * rows * width);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            /* closed cells: a cell is open when any of its four links is */
            grid[(2 * r) * width + 2 * c] = !closed_cells || link_at(w->right, w, r, c) || link_at(w->down, w, r, c)
                || link_at(w->right, w, r, c - 1) || link_at(w->down, w, r - 1, c);
            if (c < cols - 1) grid[(2 * r) * width + 2 * c + 1] = link_at(w->right, w, r, c);
            if (r < rows - 1) grid[(2 * r + 1) * width + 2 * c] = link_at(w->down, w, r, c);
        }
    }
}

/* The walk of count levels, LANES at a time. lanes: min(count, LANES) Lanes, and as many times 2 * (rows + TOP) *
 * stride bytes of links and net->stride floats of h and of next. *bad: the first (level * cells + cell) whose scores
 * are not finite (the walk stops at the end of its group of LANES levels), else left alone. */
static void walk_batch(const Walker *k, const float *cell_logits, const float *context_mix, const double *uniforms,
                       unsigned char *out, Py_ssize_t count, Lane *lanes, unsigned char *links, float *h, float *next,
                       Py_ssize_t *bad) {
    int rows = k->rows, cols = k->cols, cells = rows * cols;
    size_t link_bytes = (size_t)(rows + TOP) * (cols + LEFT + RIGHT);
    const WindowNet *net = k->net;
    float window[LANES][OPTIONS];
    for (Py_ssize_t first = 0; first < count; first += LANES) {
        int n = count - first < LANES ? (int)(count - first) : LANES;
        for (int l = 0; l < n; l++) {
            Lane *lane = &lanes[l];
            Walk *w = &lane->w;
            w->rows = rows; w->cols = cols; w->loops = k->loops; w->stride = cols + LEFT + RIGHT;
            w->right = links + (size_t)l * 2 * link_bytes;
            w->down = w->right + link_bytes;
            memset(w->right, 0, 2 * link_bytes);
            lane->level = first + l;
            lane->cells = cell_logits + (size_t)lane->level * cells * OPTIONS;
            lane->weights = context_mix + (size_t)lane->level * k->mix;
            lane->u = uniforms + (size_t)lane->level * cells;
            lane->bad = -1;
        }
        for (int r = 0; r < rows; r++) {
            for (int l = 0; l < n; l++) {
                Lane *lane = &lanes[l];
                start_row(&lane->w, r);
                memset(lane->segments, 0, sizeof(lane->segments));
                if (net->layers) /* the rows above at columns -4..4; the cell's row has nothing to its left yet */
                    for (int dr = -WINDOW_UP; dr < 0; dr++) {
                        lane->segments[2 * (dr + WINDOW_UP)] = segment_at(lane->w.right, &lane->w, r + dr, 0);
                        lane->segments[2 * (dr + WINDOW_UP) + 1] = segment_at(lane->w.down, &lane->w, r + dr, 0);
                    }
            }
            for (int c = 0; c < cols; c++) {
                for (int l = 0; l < n; l++) read_cell(k, &lanes[l], r, c);
                if (net->layers) window_net_scores(net, lanes, n, h, next, window);
                for (int l = 0; l < n; l++) {
                    Lane *lane = &lanes[l];
                    /* a lane past a bad cell keeps walking on a state no one reads; only its first bad cell counts */
                    if (!choose_cell(k, lane, r, c, net->layers ? window[l] : NULL) && lane->bad < 0)
                        lane->bad = r * cols + c;
                }
            }
        }
        for (int l = 0; l < n; l++)
            if (lanes[l].bad >= 0) {
                *bad = (Py_ssize_t)(first + l) * cells + lanes[l].bad;
                return;
            }
        for (int l = 0; l < n; l++)
            write_grid(&lanes[l].w, k->closed_cells, out + (size_t)(first + l) * cells * 4);
    }
}


static PyObject *walk(PyObject *self, PyObject *args) {
    Py_buffer cell_logits, context_mix, context_basis, uniforms, out, window_bias, window_weights, window_tables;
    Py_ssize_t count;
    int rows, cols, mix, groups, loops, closed_cells;
    double loop_bonus;
    PyObject *hidden;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*niiiipdpy*y*O!y*", &cell_logits, &context_mix, &context_basis, &uniforms,
                          &out, &count, &rows, &cols, &mix, &groups, &loops, &loop_bonus, &closed_cells,
                          &window_bias, &window_weights, &PyTuple_Type, &hidden, &window_tables))
        return NULL;
    PyObject *result = NULL;
    Lane *lanes = NULL;
    unsigned char *links = NULL;
    float *h = NULL, *next = NULL;
    WindowNet net;
    memset(&net, 0, sizeof(net));
    Py_ssize_t layers = PyTuple_GET_SIZE(hidden);
    if (layers > MAX_WINDOW_LAYERS) {
        PyErr_Format(PyExc_ValueError, "walk: a window network of at most %d hidden layers, got %zd",
                     MAX_WINDOW_LAYERS, layers);
        goto done;
    }
    net.layers = (int)layers;
    net.sizes[0] = WINDOW_INPUTS;
    for (Py_ssize_t i = 0; i < layers; i++) {
        long width = PyLong_AsLong(PyTuple_GET_ITEM(hidden, i));
        if (width < 1 || width > MAX_WINDOW_WIDTH) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "walk: window widths must be 1 to %d, got %ld", MAX_WINDOW_WIDTH,
                             width);
            goto done;
        }
        net.sizes[i + 1] = (int)width;
    }
    net.sizes[layers + 1] = OPTIONS;
    net.stride = OPTIONS;
    for (Py_ssize_t i = 1; i <= layers; i++) if (net.sizes[i] > net.stride) net.stride = net.sizes[i];
    net.stride = (net.stride + 3) / 4 * 4 + 4; /* whole SSE registers, and one more so lanes do not alias */
    if (layers) {
        size_t numbers = (size_t)net.sizes[0] * net.sizes[1];
        for (Py_ssize_t i = 1; i <= layers; i++) numbers += (size_t)net.sizes[i] * net.sizes[i + 1] + net.sizes[i + 1];
        if ((size_t)window_bias.len != (size_t)count * net.sizes[1] * sizeof(float)
            || (size_t)window_weights.len != numbers * sizeof(float)
            || (size_t)window_tables.len != (size_t)WINDOW_TABLE_ROWS * net.sizes[1] * sizeof(float)) {
            PyErr_SetString(PyExc_ValueError, "walk: window buffer sizes do not match the widths");
            goto done;
        }
        net.bias = window_bias.buf;
        net.weights = window_weights.buf;
        net.tables = window_tables.buf;
    }
    size_t real = sizeof(float);
    if (count < 0 || rows < 1 || cols < 1 || rows > MAX_SIDE || cols > MAX_SIDE || mix < 1 || groups < 1
        || groups > 2) {
        PyErr_Format(PyExc_ValueError, "walk: bad dimensions count=%zd rows=%d cols=%d mix=%d groups=%d", count, rows,
                     cols, mix, groups);
        goto done;
    }
    size_t cells = (size_t)count * rows * cols;
    if ((size_t)cell_logits.len != cells * OPTIONS * real || (size_t)context_mix.len != (size_t)count * mix * real
        || (size_t)context_basis.len != (size_t)groups * CONTEXTS * mix * OPTIONS * real
        || (size_t)uniforms.len != cells * sizeof(double) || (size_t)out.len != cells * 4) {
        PyErr_SetString(PyExc_ValueError, "walk: buffer sizes do not match the dimensions");
        goto done;
    }
    /* Every field a lane reads is written first (walk_batch, start_row, read_cell): no zeroing needed. */
    size_t used = count < LANES ? (size_t)(count > 0 ? count : 1) : LANES;
    lanes = malloc(used * sizeof(Lane));
    links = malloc(used * 2 * (rows + TOP) * (cols + LEFT + RIGHT));
    h = malloc(used * net.stride * sizeof(float));
    next = malloc(used * net.stride * sizeof(float));
    if (lanes == NULL || links == NULL || h == NULL || next == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Walker walker = {context_basis.buf, rows, cols, mix, groups, loops, closed_cells, loop_bonus, &net};
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    walk_batch(&walker, cell_logits.buf, context_mix.buf, uniforms.buf, out.buf, count, lanes, links, h, next, &bad);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(bad);
done:
    free(lanes);
    free(links);
    free(h);
    free(next);
    PyBuffer_Release(&cell_logits);
    PyBuffer_Release(&context_mix);
    PyBuffer_Release(&context_basis);
    PyBuffer_Release(&uniforms);
    PyBuffer_Release(&out);
    PyBuffer_Release(&window_bias);
    PyBuffer_Release(&window_weights);
    PyBuffer_Release(&window_tables);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS,
     "walk(cell_logits, context_mix, context_basis, uniforms, out, count, rows, cols, mix, groups, loops, "
     "loop_bonus, closed_cells, window_bias, window_weights, window_hidden, window_tables) -> -1, or the first (level * cells + cell) whose scores are not finite (the walk stops there). "
     "The raster walk into out; use daedalus.maze.raster_walk.raster_walk."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_raster_walk", "The compiled raster walk.", -1, methods};

PyMODINIT_FUNC PyInit__raster_walk(void) { return PyModule_Create(&module); }

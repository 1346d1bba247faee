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
} WindowNet;

/* The window network's four scores at one cell, in float32 and the order docs/formats.md fixes: h = the level's bias
 * plus the table row of each group of bits, in group order; then for each further layer, ReLU, its bias, plus
 * h_k * w_k for k in order. Every unit's sum runs in that order in its own lane (four units per SSE register where
 * there is SSE, one by one elsewhere: the same bits); -ffp-contract=off keeps products and sums rounded one by one. */
static void window_net_scores(const WindowNet *net, Py_ssize_t level, const unsigned *groups, float *score) {
    float h[MAX_WINDOW_WIDTH], next[MAX_WINDOW_WIDTH];
    int width = net->sizes[1];
    const float *rows[WINDOW_GROUP_COUNT];
    for (int g = 0; g < WINDOW_GROUP_COUNT; g++) rows[g] = net->tables + ((size_t)TABLE_START[g] + groups[g]) * width;
    const float *bias = net->bias + (size_t)level * width;
    int k = 0;
#if defined(__SSE2__) || defined(_M_X64)
    for (; k + 4 <= width; k += 4) {
        __m128 acc = _mm_loadu_ps(bias + k);
        for (int g = 0; g < WINDOW_GROUP_COUNT; g++) acc = _mm_add_ps(acc, _mm_loadu_ps(rows[g] + k));
        _mm_storeu_ps(h + k, _mm_max_ps(acc, _mm_setzero_ps()));
    }
#endif
    for (; k < width; k++) {
        float acc = bias[k];
        for (int g = 0; g < WINDOW_GROUP_COUNT; g++) acc = acc + rows[g][k];
        h[k] = acc > 0.0f ? acc : 0.0f;
    }
    /* h holds ReLU of the layer's sums from here on (the last layer's are the scores, no ReLU). */
    const float *at = net->weights + (size_t)WINDOW_INPUTS * width;
    for (int layer = 1; layer <= net->layers; layer++) {
        int inputs = net->sizes[layer], outputs = net->sizes[layer + 1], last = layer == net->layers;
        const float *weights = at, *b = at + (size_t)inputs * outputs;
        int o = 0;
#if defined(__SSE2__) || defined(_M_X64)
        for (; o + 4 <= outputs; o += 4) {
            __m128 acc = _mm_loadu_ps(b + o);
            for (int i = 0; i < inputs; i++)
                acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(h[i]), _mm_loadu_ps(weights + (size_t)i * outputs + o)));
            _mm_storeu_ps(next + o, last ? acc : _mm_max_ps(acc, _mm_setzero_ps()));
        }
#endif
        for (; o < outputs; o++) {
            float acc = b[o];
            for (int i = 0; i < inputs; i++) acc = acc + h[i] * weights[(size_t)i * outputs + o];
            next[o] = last || acc > 0.0f ? acc : 0.0f;
        }
        memcpy(h, next, sizeof(float) * outputs);
        at = b + outputs;
    }
    for (int o = 0; o < OPTIONS; o++) score[o] = h[o];
}

/* The segment of row r + dr (dr < 0) and one kind at columns c-4..c+4, bit j for column c-4+j. */
static inline unsigned segment_at(const unsigned char *links, const Walk *w, int r, int c) {
    unsigned value = 0;
    for (int j = 0; j <= 2 * WINDOW_SIDE; j++) value |= (unsigned)link_at(links, w, r, c - WINDOW_SIDE + j) << j;
    return value;
}

static void walk_batch(const float *cell_logits, const float *context_mix, const float *context_basis,
                       const double *uniforms, unsigned char *out, Py_ssize_t count, int rows, int cols, int mix,
                       int groups, int loops, double loop_bonus, int closed_cells, WindowNet *net,
                       unsigned char *scratch, Py_ssize_t *bad) {
    Walk w;
    w.rows = rows; w.cols = cols; w.loops = loops; w.stride = cols + LEFT + RIGHT;
    size_t links = (size_t)(rows + TOP) * w.stride;
    w.right = scratch; w.down = scratch + links;
    int height = 2 * rows, width = 2 * cols;
    for (Py_ssize_t b = 0; b < count; b++) {
        memset(scratch, 0, 2 * links);
        const float *cells = cell_logits + (size_t)b * rows * cols * OPTIONS;
        const float *weights = context_mix + (size_t)b * mix;
        const double *u = uniforms + (size_t)b * rows * cols;
        for (int r = 0; r < rows; r++) {
            start_row(&w, r);
            unsigned segments[WINDOW_GROUP_COUNT] = {0};
            if (net->layers) /* the rows above at columns -4..4; the cell's row has nothing to its left yet */
                for (int dr = -WINDOW_UP; dr < 0; dr++) {
                    segments[2 * (dr + WINDOW_UP)] = segment_at(w.right, &w, r + dr, 0);
                    segments[2 * (dr + WINDOW_UP) + 1] = segment_at(w.down, &w, r + dr, 0);
                }
            for (int c = 0; c < cols; c++) {
                int own = w.label[c], has_right = c < cols - 1, has_below = r < rows - 1;
                int same = has_right && own == w.label[c + 1];
                int set_has_down = w.has_down[own];
                int later = w.last[own] > c;
                int context = link_at(w.down, &w, r - 1, c)
                    | link_at(w.right, &w, r, c - 1) << 1
                    | link_at(w.down, &w, r - 1, c + 1) << 2
                    | same << 3
                    | set_has_down << 4
                    | link_at(w.right, &w, r, c - 2) << 5
                    | link_at(w.down, &w, r - 2, c) << 6
                    | link_at(w.right, &w, r - 1, c) << 7
                    | later << 8
                    | link_at(w.right, &w, r - 1, c - 1) << 9
                    | link_at(w.down, &w, r, c - 1) << 10
                    | link_at(w.down, &w, r - 1, c - 1) << 11
                    | link_at(w.down, &w, r - 1, c + 2) << 12
                    | link_at(w.right, &w, r - 1, c + 1) << 13;
                int allowed[OPTIONS];
                if (!has_right && !has_below) {
                    allowed[0] = 1; allowed[1] = allowed[2] = allowed[3] = 0;
                } else {
                    int right_ok = has_right && (!same || loops);
                    allowed[0] = set_has_down || later;
                    /* closed cells: a cell joined from neither above nor the left may close (it becomes wall) */
                    if (closed_cells && (r || c) && !link_at(w.down, &w, r - 1, c) && !link_at(w.right, &w, r, c - 1))
                        allowed[0] = 1;
                    allowed[1] = right_ok;
                    allowed[2] = has_below;
                    allowed[3] = right_ok && has_below;
                }
                const float *cell = cells + ((size_t)r * cols + c) * OPTIONS;
                const float *basis[2];
                basis[0] = context_basis + (size_t)context * mix * OPTIONS;
                if (groups > 1) { /* docs/formats.md step 2, the second group (WIDE_CONTEXT_BITS) */
                    int wide = link_at(w.right, &w, r, c - 3)
                        | link_at(w.down, &w, r, c - 2) << 1
                        | link_at(w.down, &w, r - 2, c - 1) << 2
                        | link_at(w.down, &w, r - 2, c + 1) << 3
                        | link_at(w.right, &w, r - 2, c) << 4
                        | link_at(w.right, &w, r - 2, c - 1) << 5
                        | link_at(w.right, &w, r - 1, c + 2) << 6
                        | link_at(w.down, &w, r - 1, c - 2) << 7
                        | link_at(w.down, &w, r - 3, c) << 8
                        | link_at(w.down, &w, r - 1, c) << 9
                        | link_at(w.right, &w, r, c - 1) << 10
                        | same << 11
                        | set_has_down << 12
                        | later << 13;
                    basis[1] = context_basis + ((size_t)CONTEXTS + wide) * mix * OPTIONS;
                }
                double score[OPTIONS], top = -INFINITY;
                float window[OPTIONS] = {0.0f, 0.0f, 0.0f, 0.0f};
                mix_scores(weights, basis, groups, mix, score);
                if (net->layers) {
                    segments[WINDOW_SEGMENTS] = (unsigned)same | (unsigned)set_has_down << 1 | (unsigned)later << 2;
                    window_net_scores(net, b, segments, window);
                }
                for (int o = 0; o < OPTIONS; o++) {
                    score[o] = (double)cell[o] + score[o];
                    if (net->layers) score[o] += (double)window[o];
                    if (loops && same && (o & 1)) score[o] += loop_bonus;
                    if (allowed[o] && score[o] > top) top = score[o];
                }
                if (!isfinite(score[0] + score[1] + score[2] + score[3])) {
                    *bad = (Py_ssize_t)b * rows * cols + (Py_ssize_t)r * cols + c;
                    return;
                }
                double cumulative[OPTIONS], total = 0.0;
                int last = 0;
                for (int o = 0; o < OPTIONS; o++) {
                    /* exp(0) is exactly 1 in every libm: the best option's weight needs no call. */
                    if (allowed[o]) { total += score[o] == top ? 1.0 : exp(score[o] - top); last = o; }
                    cumulative[o] = total;
                }
                double threshold = u[r * cols + c] * total;
                int option = 0;
                for (int o = 0; o < OPTIONS; o++) option += cumulative[o] <= threshold;
                if (option > last) option = last;
                int open_right = option & 1, open_down = option >> 1;
                w.right[(r + TOP) * w.stride + c + LEFT] = (unsigned char)open_right;
                w.down[(r + TOP) * w.stride + c + LEFT] = (unsigned char)open_down;
                if (open_right && has_right) {
                    int a = w.label[c], bb = w.label[c + 1];
                    if (a != bb) { /* names are not always leftmost cells after a merge: scan to last[bb] */
                        for (int k = 0; k <= w.last[bb]; k++) if (w.label[k] == bb) w.label[k] = a;
                        w.has_down[a] |= w.has_down[bb];
                        if (w.last[bb] > w.last[a]) w.last[a] = w.last[bb];
                    }
                }
                if (open_down) w.has_down[w.label[c]] = 1;
                if (net->layers) { /* slide every segment one column right */
                    for (int dr = -WINDOW_UP; dr < 0; dr++) {
                        int k = 2 * (dr + WINDOW_UP);
                        segments[k] = segments[k] >> 1 | (unsigned)link_at(w.right, &w, r + dr, c + 1 + WINDOW_SIDE) << 8;
                        segments[k + 1] = segments[k + 1] >> 1
                            | (unsigned)link_at(w.down, &w, r + dr, c + 1 + WINDOW_SIDE) << 8;
                    }
                    segments[2 * WINDOW_UP] = segments[2 * WINDOW_UP] >> 1 | (unsigned)open_right << (WINDOW_SIDE - 1);
                    segments[2 * WINDOW_UP + 1] = segments[2 * WINDOW_UP + 1] >> 1
                        | (unsigned)open_down << (WINDOW_SIDE - 1);
                }
            }
        }
        unsigned char *grid = out + (size_t)b * height * width;
        memset(grid, 0, (size_t)height * width);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                /* closed cells: a cell is open when any of its four links is */
                grid[(2 * r) * width + 2 * c] = !closed_cells || link_at(w.right, &w, r, c) || link_at(w.down, &w, r, c)
                    || link_at(w.right, &w, r, c - 1) || link_at(w.down, &w, r - 1, c);
                if (c < cols - 1) grid[(2 * r) * width + 2 * c + 1] = link_at(w.right, &w, r, c);
                if (r < rows - 1) grid[(2 * r + 1) * width + 2 * c] = link_at(w.down, &w, r, c);
            }
        }
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
    unsigned char *scratch = NULL;
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
    scratch = malloc(2 * (size_t)(rows + TOP) * (cols + LEFT + RIGHT));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    walk_batch(cell_logits.buf, context_mix.buf, context_basis.buf, uniforms.buf, out.buf, count, rows,
               cols, mix, groups, loops, loop_bonus, closed_cells, &net, scratch, &bad);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(bad);
done:
    free(scratch);
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

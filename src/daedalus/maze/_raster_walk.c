/* The raster walk (daedalus.maze.raster_walk) compiled: the same choices, bit for bit, as the numpy reference.
 *
 * One function, walk(), over a batch: cell_logits (count, rows, cols, 4), context_mix (count, mix), context_basis
 * (16384 * groups, mix, 4) for one or two context groups, all float32 (what a decoder returns), uniforms float64 (count, rows * cols), and an output buffer uint8
 * (count, 2 * rows, 2 * cols). The arithmetic follows docs/formats.md ("The raster walk") in float64: a score is
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
#define LEFT 3
#define RIGHT 2
#define MAX_SIDE 512

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

static void walk_batch(const float *cell_logits, const float *context_mix, const float *context_basis,
                       const double *uniforms, unsigned char *out, Py_ssize_t count, int rows, int cols, int mix,
                       int groups, int loops, double loop_bonus, int closed_cells, unsigned char *scratch,
                       Py_ssize_t *bad) {
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
                mix_scores(weights, basis, groups, mix, score);
                for (int o = 0; o < OPTIONS; o++) {
                    score[o] = (double)cell[o] + score[o];
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
    Py_buffer cell_logits, context_mix, context_basis, uniforms, out;
    Py_ssize_t count;
    int rows, cols, mix, groups, loops, closed_cells;
    double loop_bonus;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*niiiipdp", &cell_logits, &context_mix, &context_basis, &uniforms, &out,
                          &count, &rows, &cols, &mix, &groups, &loops, &loop_bonus, &closed_cells))
        return NULL;
    PyObject *result = NULL;
    size_t real = sizeof(float);
    unsigned char *scratch = NULL;
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
               cols, mix, groups, loops, loop_bonus, closed_cells, scratch, &bad);
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(bad);
done:
    free(scratch);
    PyBuffer_Release(&cell_logits);
    PyBuffer_Release(&context_mix);
    PyBuffer_Release(&context_basis);
    PyBuffer_Release(&uniforms);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS,
     "walk(cell_logits, context_mix, context_basis, uniforms, out, count, rows, cols, mix, groups, loops, "
     "loop_bonus, closed_cells) -> -1, or the first (level * cells + cell) whose scores are not finite (the walk stops there). "
     "The raster walk into out; use daedalus.maze.raster_walk.raster_walk."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_raster_walk", "The compiled raster walk.", -1, methods};

PyMODINIT_FUNC PyInit__raster_walk(void) { return PyModule_Create(&module); }

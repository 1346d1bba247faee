/* Portable level codes compiled (daedalus.runtime.levelcode holds the algorithm and the numpy reference):
 * normals(codes, count, dim, out) writes the (count, dim) float64 standard normals of uint64 level codes, SplitMix64
 * words turned into pairs by Box-Muller in float64. The same operations as the reference; libm's log, sqrt, cos and
 * sin may differ from numpy's by an ulp, which the rounding to float32 that follows hides (docs/formats.md). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL
#define TWO_PI 6.283185307179586
#define TWO_53 (1.0 / 9007199254740992.0)

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static PyObject *normals(PyObject *self, PyObject *args) {
    Py_buffer codes, out;
    Py_ssize_t count, dim;
    if (!PyArg_ParseTuple(args, "y*nnw*", &codes, &count, &dim, &out)) return NULL;
    PyObject *result = NULL;
    if (count < 0 || dim < 0 || (size_t)codes.len != (size_t)count * sizeof(uint64_t)
        || (size_t)out.len != (size_t)count * dim * sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "normals: buffer sizes do not match count and dim");
        goto done;
    }
    const uint64_t *code = codes.buf;
    double *z = out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t key = mix(code[i] + GOLDEN);
        double *row = z + (size_t)i * dim;
        for (Py_ssize_t d = 0; d < dim; d += 2) {
            uint64_t n = (uint64_t)d + 1; /* word 2j is the stream's output 2j: mix(key + (2j + 1) * GOLDEN) */
            double u1 = ((double)(mix(key + n * GOLDEN) >> 11) + 1.0) * TWO_53;
            double u2 = (double)(mix(key + (n + 1) * GOLDEN) >> 11) * TWO_53;
            double r = sqrt(-2.0 * log(u1)), t = TWO_PI * u2;
            row[d] = r * cos(t);
            if (d + 1 < dim) row[d + 1] = r * sin(t);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&codes);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"normals", normals, METH_VARARGS,
     "normals(codes uint64, count, dim, out float64): level codes' standard normals into out "
     "(use daedalus.runtime.levelcode.normals)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_levelcode", "Portable level codes, compiled.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__levelcode(void) { return PyModule_Create(&module); }

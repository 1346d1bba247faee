/* The honest floor for "no learning": a compiled recursive backtracker (iterative, explicit stack), the classic
 * generator at the speed of C. Built by benchmarks/runtime.py with the system compiler and called through ctypes;
 * not part of the package. mazes(count, rows, cols, seed, out) writes count (2 rows) x (2 cols) uint8 grids,
 * 1 = open, with the lattice rule of daedalus.maze.grid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next(uint64_t *state) { /* xorshift64* */
    uint64_t x = *state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

int mazes(int count, int rows, int cols, uint64_t seed, uint8_t *out) {
    static const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
    int cells = rows * cols, width = 2 * cols;
    int *stack = malloc(sizeof(int) * cells);
    uint8_t *seen = malloc(cells);
    if (!stack || !seen) { free(stack); free(seen); return -1; }
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int m = 0; m < count; m++) {
        uint8_t *grid = out + (size_t)m * cells * 4;
        memset(grid, 0, (size_t)cells * 4);
        memset(seen, 0, cells);
        int top = 0;
        stack[top++] = 0; seen[0] = 1; grid[0] = 1;
        while (top) {
            int cell = stack[top - 1], r = cell / cols, c = cell % cols, options[4], n = 0;
            for (int d = 0; d < 4; d++) {
                int nr = r + dr[d], nc = c + dc[d];
                if (nr >= 0 && nr < rows && nc >= 0 && nc < cols && !seen[nr * cols + nc]) options[n++] = d;
            }
            if (!n) { top--; continue; }
            int d = options[next(&state) % n], nr = r + dr[d], nc = c + dc[d];
            seen[nr * cols + nc] = 1;
            grid[(2 * r + dr[d]) * width + 2 * c + dc[d]] = 1;
            grid[2 * nr * width + 2 * nc] = 1;
            stack[top++] = nr * cols + nc;
        }
    }
    free(stack); free(seen);
    return 0;
}

"""The compiled parts (pyproject.toml holds everything else): the raster walk, the level codes' normals and the
target statistics. Each C extension is optional: where it cannot be built (no compiler on a source install), daedalus
falls back to numpy, which gives the same levels and numbers. Wheels carry them built: users never need a compiler."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "daedalus.maze._raster_walk",
            sources=["src/daedalus/maze/_raster_walk.c"],
            # No -ffast-math: the walk's float64 arithmetic must match the reference to the last bit.
            extra_compile_args=["-O3", "-ffp-contract=off"] if __import__("sys").platform != "win32" else ["/O2"],
            optional=True,
        ),
        # Level codes' normals (daedalus.runtime.levelcode falls back to numpy; same float32 latents).
        Extension(
            "daedalus.runtime._levelcode",
            sources=["src/daedalus/runtime/_levelcode.c"],
            extra_compile_args=["-O3", "-ffp-contract=off"] if __import__("sys").platform != "win32" else ["/O2"],
            optional=True,
        ),
        # The target search's statistics (issue 12); daedalus.maze.stats.attributes falls back to numpy without it.
        Extension(
            "daedalus.maze._stats",
            sources=["src/daedalus/maze/_stats.c"],
            extra_compile_args=["-O3"] if __import__("sys").platform != "win32" else ["/O2"],
            optional=True,
        ),
    ]
)

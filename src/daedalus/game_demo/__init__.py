"""The pygame demo: run for the exit while a minotaur chases you through levels from the runtime.

``rules`` (plain Python) and ``autopilot`` never import pygame; ``render``, ``scenes`` and ``app`` do, and only
``app.App.open`` initialises it. Start it with ``daedalus play``.
"""

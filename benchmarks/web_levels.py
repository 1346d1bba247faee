"""The browser against Python: levels of many codes in both modes, the first level's time on screen, the frame p99.

Serves web/ (``daedalus.web``) and drives Debian's headless chromium (tests/web_browser.py). For codes
``first .. first + codes - 1`` it compares the page's text form (onnxruntime-web + web/walk.js, one decode per code,
both modes from it) with ``MazeGenerator.generate(codes, seed=first, mode)`` (level i has code first + i); then it
loads the game page a few times and reads the page's own measures: ``firstLevelMs`` (performance.now() at the first
drawn frame: from navigation start to the first level on screen) and the p99 of the time each animation frame spends
in our code (ticks + draw), over ``--frames`` frames with the autopilot.

    python benchmarks/web_levels.py --codes 1000 --frames 1800
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from daedalus.runtime import MazeGenerator  # noqa: E402
from web_browser import chromium, served, severe, wait_for  # noqa: E402

CHUNK = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=1000, help="how many level codes (default 1000)")
    parser.add_argument("--first", type=int, default=0, help="the first level code (default 0)")
    parser.add_argument("--frames", type=int, default=1800, help="autopilot frames for the p99 (default 1800)")
    parser.add_argument("--loads", type=int, default=3, help="page loads for the first-level time (default 3)")
    args = parser.parse_args()

    generator = MazeGenerator.load()
    begin = time.perf_counter()
    python = {mode: [level.to_text() for level in generator.generate(args.codes, seed=args.first, mode=mode)]
              for mode in ("perfect", "braid")}
    python_s = time.perf_counter() - begin

    with served() as url, chromium() as driver:
        firsts = []
        for i in range(args.loads):
            driver.get(f"{url}?code={args.first + i}&mode=braid")
            firsts.append(wait_for(driver, "return window.daedalus.firstLevelMs"))
        driver.get(f"{url}?code={args.first}&export=1")
        wait_for(driver, "return document.body.dataset.state")
        same = {"perfect": 0, "braid": 0}
        differ = {"perfect": [], "braid": []}
        begin = time.perf_counter()
        for start in range(0, args.codes, CHUNK):
            codes = [str(args.first + i) for i in range(start, min(args.codes, start + CHUNK))]
            texts = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                (async () => { const out = [];
                  for (const code of arguments[0]) out.push(await window.daedalus.exportBoth(code));
                  return out; })().then(done, (e) => done(String(e)));""", codes)
            if isinstance(texts, str):
                raise SystemExit(f"the page failed: {texts}")
            for k, both in enumerate(texts):
                for mode in same:
                    if both[mode] == python[mode][start + k]:
                        same[mode] += 1
                    else:
                        differ[mode].append(int(codes[k]))
        browser_s = time.perf_counter() - begin
        driver.get(f"{url}?code={args.first}&mode=braid&autopilot=1")
        wait_for(driver, f"return window.daedalus.frames >= {args.frames}", timeout=args.frames / 10 + 60)
        frames = driver.execute_script("const s = window.daedalus; return {p99: s.frameP99(), n: s.frames, "
                                       "times: s.frameTimes, levels: s.levelsPlayed, won: s.won, caught: s.caught}")
        errors = severe(driver)
        browser = driver.capabilities.get("browserVersion")

    times = sorted(frames["times"])
    report = {
        "codes": args.codes, "first": args.first,
        "identical_percent": {mode: round(100 * same[mode] / args.codes, 2) for mode in same},
        "differing_codes": {mode: differ[mode][:20] for mode in differ},
        "first_level_ms": [round(v, 1) for v in firsts], "first_level_ms_median": round(statistics.median(firsts), 1),
        "frame_p99_ms": round(frames["p99"], 3), "frame_p50_ms": round(times[len(times) // 2], 3),
        "frame_max_ms": round(times[-1], 3), "frames": frames["n"],
        "levels_played": frames["levels"], "won": frames["won"], "caught": frames["caught"],
        "browser_ms_per_code_both_modes": round(1000 * browser_s / args.codes, 2),
        "python_ms_per_code_both_modes": round(1000 * python_s / args.codes, 2),
        "console_errors": len(errors), "chromium": browser,
    }
    print(json.dumps(report))
    for mode in same:
        print(f"{mode}: {same[mode]} / {args.codes} identical ({report['identical_percent'][mode]} %)")
    print(f"first level on screen: median {report['first_level_ms_median']} ms after navigation start "
          f"({report['first_level_ms']}); frame p99 {report['frame_p99_ms']} ms over {frames['n']} frames")


if __name__ == "__main__":
    main()

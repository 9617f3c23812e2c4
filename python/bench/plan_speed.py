"""Planning from Python against the command line, side by side in one run.

    python python/bench/plan_speed.py EMBPLAN_BIN SCHEMA BUDGET [REPEATS]

Times, alternately, `embplan plan --budget BUDGET SCHEMA -q -o X.toml` (a whole process:
start, load, plan, print the table, write) and the same work in this interpreter
(`Schema.load`, `embplan.plan`, `Plan.save`), each REPEATS times (default 30), and prints
the medians and their ratio. Both must write the same plan file.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

import embplan


def main():
    binary, schema_path, budget = sys.argv[1:4]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    out = tempfile.mkdtemp()
    cli_path, py_path = os.path.join(out, "cli.toml"), os.path.join(out, "py.toml")
    cli_times, py_times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([binary, "plan", "--budget", budget, schema_path, "-q", "-o", cli_path],
                       check=True, stdout=subprocess.DEVNULL)
        cli_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        embplan.plan(embplan.Schema.load(schema_path), budget=budget).save(py_path)
        py_times.append(time.perf_counter() - t0)
    same = open(cli_path).read() == open(py_path).read()
    cli, py = statistics.median(cli_times), statistics.median(py_times)
    print(f"{os.path.basename(schema_path)} at {budget}, {repeats} runs each, medians:")
    print(f"  embplan plan (process)  {cli * 1e3:8.2f} ms")
    print(f"  embplan.plan (Python)   {py * 1e3:8.2f} ms")
    print(f"  Python / CLI            {py / cli:8.3f}   (same plan file: {same})")
    if not same:
        raise SystemExit("the two plan files differ")


if __name__ == "__main__":
    main()

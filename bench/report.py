#!/usr/bin/env python3
"""Summarise a Google Benchmark JSON file as Markdown tables (and optionally PNG charts).

Benchmarks are expected to be named `<op>/<impl>/<size>` (Google Benchmark may append
`/real_time`, `/threads:N`, `/repeats:N` ...). Results are grouped by op, thread count and
size, with one column per implementation and ratio columns of the baseline implementation
(`seam` by default) against each other one. A second table gives each benchmark's throughput
with N threads relative to its smallest thread count.

Produce the input with
    seam_bench_<topic> --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_out=FILE.json --benchmark_out_format=json
Medians come from Google Benchmark's `median` aggregates when present, otherwise they are
computed here from the individual runs. On a loaded machine, `--metric items_per_cpu_second`
compares throughput per CPU-second, which preemption by other processes barely moves.

Python 3 standard library only; the plot needs `gnuplot` on PATH.
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from collections import OrderedDict

# Name components Google Benchmark adds to a family's name; they are not part of op/impl/size.
_GB_SUFFIX = re.compile(r"^(threads|repeats|iterations|min_time|min_warmup_time):|"
                        r"^(real_time|process_time|manual_time)$")


class Key:
    """What a row of a benchmark file measures: op, impl, size and thread count."""

    __slots__ = ("op", "impl", "size", "threads")

    def __init__(self, op, impl, size, threads):
        self.op, self.impl, self.size, self.threads = op, impl, size, threads

    def row(self):
        return (self.op, self.threads, self.size)

    def ident(self):
        return (self.op, self.impl, self.size, self.threads)


def parse_key(entry):
    """Returns the Key of a benchmark entry, or None if its name is not op/impl[/size]."""
    name = entry.get("run_name") or entry.get("name", "")
    threads = entry.get("threads")
    parts = []
    for part in name.split("/"):
        if _GB_SUFFIX.match(part):
            if part.startswith("threads:") and threads is None:
                threads = int(part.split(":", 1)[1])
            continue
        parts.append(part)
    if len(parts) >= 3:
        op, impl, size = "/".join(parts[:-2]), parts[-2], parts[-1]
    elif len(parts) == 2:
        op, impl, size = parts[0], parts[1], ""
    else:
        return None
    return Key(op, impl, size, int(threads) if threads is not None else 1)


def size_order(size):
    """Sorts numeric sizes numerically and anything else after them, as text."""
    try:
        return (0, float(size), "")
    except ValueError:
        return (1, 0.0, size)


# Derived metric: throughput per CPU-second instead of per wall-clock second. On a shared,
# overloaded machine a benchmark that is preempted loses wall-clock throughput but not CPU
# throughput, and with N threads it is the throughput per busy core (flat if nothing contends).
CPU_RATE = "items_per_cpu_second"


def metric_value(entry, metric):
    if metric in entry:
        return float(entry[metric])
    if metric != CPU_RATE or entry.get("aggregate_name") in ("stddev", "cv"):
        return None
    try:
        # Google Benchmark divides items by real time; real_time and cpu_time are per
        # iteration (cpu_time summed over threads), so this rescales to total CPU time.
        return float(entry["items_per_second"]) * float(entry["real_time"]) / float(entry["cpu_time"])
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def load(path, metric, stat):
    """Reads a benchmark file: returns ({ident: value}, {ident: cv}, {ident: error}, context)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    aggregates, samples, cvs, errors, keys = {}, {}, {}, {}, OrderedDict()
    # --benchmark_enable_random_interleaving shuffles the entries: restore registration order.
    entries = sorted(data.get("benchmarks", []),
                     key=lambda e: (e.get("family_index", 0), e.get("per_family_instance_index", 0)))
    for entry in entries:
        key = parse_key(entry)
        if key is None:
            continue
        ident = key.ident()
        keys.setdefault(ident, key)
        if entry.get("error_occurred"):
            errors[ident] = entry.get("error_message", "error")
            continue
        value = metric_value(entry, metric)
        if value is None:
            continue
        if entry.get("run_type") == "aggregate":
            if entry.get("aggregate_name") == stat:
                aggregates[ident] = value
            elif entry.get("aggregate_name") == "cv":
                cvs[ident] = value
        else:
            samples.setdefault(ident, []).append(value)
    values = {}
    for ident in keys:
        if ident in aggregates:
            values[ident] = aggregates[ident]
        elif ident in samples:
            runs = samples[ident]
            values[ident] = statistics.median(runs) if stat == "median" else statistics.mean(runs)
            if ident not in cvs and len(runs) > 1 and statistics.mean(runs) != 0:
                cvs[ident] = statistics.stdev(runs) / statistics.mean(runs)
    return keys, values, cvs, errors, data.get("context", {})


def human(value):
    """12345678 -> '12.3M': short enough for a table cell."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def markdown(header, rows):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def comparison_table(keys, values, cvs, errors, baseline, metric, stat, show_cv):
    impls = list(OrderedDict.fromkeys(k.impl for k in keys.values()))
    if baseline in impls:
        impls.remove(baseline)
        impls.insert(0, baseline)
    ops = list(OrderedDict.fromkeys(k.op for k in keys.values()))
    rows = sorted({k.row() for k in keys.values()},
                  key=lambda r: (ops.index(r[0]), r[1], size_order(r[2])))
    others = [i for i in impls if i != baseline] if baseline in impls else []

    def cell(ident):
        if ident in errors:
            return "error"
        if ident not in values:
            return ""
        text = human(values[ident])
        if show_cv and ident in cvs:
            text += f" ±{cvs[ident] * 100:.0f}%"
        return text

    header = ["op", "threads", "size"] + impls + [f"{baseline}/{o}" for o in others]
    table = []
    for op, threads, size in rows:
        cells = [op, threads, size]
        cells += [cell((op, impl, size, threads)) for impl in impls]
        base = values.get((op, baseline, size, threads))
        for other in others:
            value = values.get((op, other, size, threads))
            cells.append(f"{base / value:.2f}x" if base is not None and value else "")
        table.append(cells)
    title = f"{stat} {metric}" + (" (±cv)" if show_cv else "")
    return f"### {title}\n\n" + markdown(header, table)


def scaling_table(keys, values, stat, metric):
    """Each benchmark's value at N threads over its value at its smallest thread count."""
    groups = OrderedDict()
    for k in keys.values():
        groups.setdefault((k.op, k.impl, k.size), set()).add(k.threads)
    counts = sorted({t for ts in groups.values() for t in ts})
    if len(counts) < 2:
        return ""
    ops = list(OrderedDict.fromkeys(op for op, _, _ in groups))
    impls = list(OrderedDict.fromkeys(impl for _, impl, _ in groups))
    header = ["op", "impl", "size"] + [f"{t}T/{counts[0]}T" for t in counts[1:]]
    table = []
    for op, impl, size in sorted(groups, key=lambda g: (ops.index(g[0]), impls.index(g[1]),
                                                        size_order(g[2]))):
        base = values.get((op, impl, size, counts[0]))
        cells = [op, impl, size]
        for t in counts[1:]:
            value = values.get((op, impl, size, t))
            cells.append(f"{value / base:.2f}x" if base and value is not None else "")
        table.append(cells)
    return f"### thread scaling ({stat} {metric})\n\n" + markdown(header, table)


def plot(path, keys, values, metric):
    """One panel per (op, threads): metric against size, one line per impl, log scales."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        sys.exit("report.py: gnuplot is not on PATH; cannot write " + path)
    panels = OrderedDict()
    for k in keys.values():
        panels.setdefault((k.op, k.threads), OrderedDict()).setdefault(k.impl, [])
    for ident, value in values.items():
        op, impl, size, threads = ident
        panels[(op, threads)][impl].append((size, value))
    ops = list(OrderedDict.fromkeys(op for op, _ in panels))
    threads = sorted({t for _, t in panels})
    sizes = sorted({k.size for k in keys.values()}, key=size_order)
    numeric = all(size_order(s)[0] == 0 and float(s) > 0 for s in sizes)

    terminal = "pngcairo" if "pngcairo" in subprocess.run(
        [gnuplot, "-e", "set terminal"], capture_output=True, text=True).stderr else "png"
    script = [f"set terminal {terminal} size {520 * len(threads)},{380 * len(ops)}",
              f"set output '{path}'",
              f"set multiplot layout {len(ops)},{len(threads)}",
              "set logscale y", "set format y '%.0s%c'", "set grid", "set key top right",
              f"set ylabel '{metric}' noenhanced", "set xlabel 'size'"]
    if numeric:
        script.append("set logscale x 2")
    blocks = []
    for n, ((op, t), impls) in enumerate(panels.items()):
        plots = []
        for impl, points in impls.items():
            if not points:
                continue
            name = f"$d{n}_{len(plots)}"
            points.sort(key=lambda p: size_order(p[0]))
            lines = [f"{p[0]} {p[1]}" if numeric else f"{sizes.index(p[0])} {p[1]} {p[0]}"
                     for p in points]
            blocks.append(f"{name} << EOD\n" + "\n".join(lines) + "\nEOD")
            using = "1:2" if numeric else "1:2:xtic(3)"
            plots.append(f"{name} using {using} with linespoints title '{impl}'")
        script.append(f"set title '{op}, {t} thread{'s' if t != 1 else ''}' noenhanced")
        script.append("plot " + ", ".join(plots) if plots else "plot NaN notitle")
    script.append("unset multiplot")
    subprocess.run([gnuplot], input="\n".join(blocks + script) + "\n", text=True, check=True)


def charts(directory, keys, values, metric):
    """One PNG per benchmark family (op and thread count), one panel per size with a bar per
    impl, each labelled with its value: the implementations side by side, each size on its own
    scale. Writes DIRECTORY/<op>[_<N>threads].png and returns the paths."""
    import os
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        sys.exit("report.py: gnuplot is not on PATH; cannot write charts to " + directory)
    os.makedirs(directory, exist_ok=True)
    impls = list(OrderedDict.fromkeys(k.impl for k in keys.values()))
    families = OrderedDict()
    for k in keys.values():
        families.setdefault((k.op, k.threads), set()).add(k.size)
    terminal = "pngcairo" if "pngcairo" in subprocess.run(
        [gnuplot, "-e", "set terminal"], capture_output=True, text=True).stderr else "png"
    written = []
    for (op, threads), sizes in families.items():
        sizes = sorted(sizes, key=size_order)
        panels = [(size, [(i, values[(op, i, size, threads)]) for i in impls
                          if (op, i, size, threads) in values]) for size in sizes]
        panels = [(size, bars) for size, bars in panels if bars]
        if not panels:
            continue
        name = op.replace("/", "_") + (f"_{threads}threads" if threads != 1 else "")
        path = os.path.join(directory, name + ".png")
        data, script = [], [f"set terminal {terminal} size {300 * len(panels) + 80},360",
                            f"set output '{path}'",
                            f"set multiplot layout 1,{len(panels)} title '{op}"
                            + (f", {threads} threads" if threads != 1 else "")
                            + f" ({metric})' noenhanced",
                            "set style fill solid 0.85 border -1", "set boxwidth 0.7",
                            "set grid ytics", "set format y '%.1s%c'",
                            "set offsets 0.5, 0.5, 0, 0", "unset key"]
        for n, (size, bars) in enumerate(panels):
            data += [f"$d{n} << EOD"]
            data += [f"{impl} {value:.6g} {impls.index(impl) + 1} {human(value)}"
                     for impl, value in bars]
            data += ["EOD"]
            top = max(value for _, value in bars) * 1.15  # room for the labels
            script += [f"set title 'size {size}' noenhanced", f"set yrange [0:{top:.6g}]",
                       f"plot $d{n} using 0:2:3:xtic(1) with boxes lc variable, "
                       f"'' using 0:2:4 with labels offset 0,0.8 font ',9'"]
        script = data + script
        script.append("unset multiplot")
        subprocess.run([gnuplot], input="\n".join(script) + "\n", text=True, check=True)
        written.append(path)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", help="Google Benchmark output (--benchmark_out_format=json)")
    parser.add_argument("--metric", default="items_per_second",
                        help="field to compare (default: items_per_second), or "
                        f"{CPU_RATE}: items per CPU-second, less disturbed by other load")
    parser.add_argument("--stat", default="median", choices=["median", "mean"],
                        help="statistic over repetitions (default: median)")
    parser.add_argument("--baseline", default="seam",
                        help="impl the ratio columns compare against the others (default: seam)")
    parser.add_argument("--cv", action="store_true",
                        help="show the coefficient of variation over repetitions in each cell")
    parser.add_argument("--png", help="also write a gnuplot PNG of metric against size")
    parser.add_argument("--charts", metavar="DIR",
                        help="also write one bar chart per benchmark family (op) to DIR, "
                        "the implementations side by side at each size")
    args = parser.parse_args()

    keys, values, cvs, errors, context = load(args.json, args.metric, args.stat)
    if not keys:
        sys.exit(f"report.py: no <op>/<impl>/<size> benchmarks in {args.json}")
    # library_build_type is that of libbenchmark itself (Debian's says "debug"), not ours.
    labels = {"date": "date", "host_name": "host", "num_cpus": "cpus", "load_avg": "load avg",
              "library_build_type": "libbenchmark build"}
    facts = [f"{label}: {context[name]}" for name, label in labels.items() if name in context]
    if facts:
        print("_" + "; ".join(str(f) for f in facts) + "_\n")
    print(comparison_table(keys, values, cvs, errors, args.baseline, args.metric, args.stat,
                           args.cv))
    scaling = scaling_table(keys, values, args.stat, args.metric)
    if scaling:
        print("\n" + scaling)
    if errors:
        print("\nErrors:")
        for (op, impl, size, threads), message in errors.items():
            print(f"- {op}/{impl}/{size} threads:{threads}: {message}")
    if args.png:
        plot(args.png, keys, values, args.metric)
    if args.charts:
        for path in charts(args.charts, keys, values, args.metric):
            print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

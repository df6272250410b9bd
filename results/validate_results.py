#!/usr/bin/env python3
"""Checks a results.json against the mrbench results schema v1 (results/README.md).

Standard library only. Exit 0 when valid; 1 with one line per problem otherwise.
Usage: validate_results.py RESULTS.json
"""
import json
import math
import sys

NUM = (int, float)


def check(results):
    errors = []

    def need(obj, key, types, path):
        if not isinstance(obj, dict) or key not in obj:
            errors.append(f"{path}.{key}: missing")
            return None
        if not isinstance(obj[key], types):
            errors.append(f"{path}.{key}: expected {types}, got {type(obj[key]).__name__}")
            return None
        return obj[key]

    if need(results, "schema_version", int, "$") not in (1,):
        errors.append("$.schema_version: expected 1")
    if need(results, "kind", str, "$") != "mrbench-results":
        errors.append("$.kind: expected 'mrbench-results'")
    ctx = need(results, "context", dict, "$") or {}
    for k in ("date", "started", "finished", "host"):
        need(ctx, k, str, "$.context")
    build = need(ctx, "build", dict, "$.context") or {}
    for k in ("mrbench_version", "git_commit", "compiler", "build_type", "c_flags"):
        need(build, k, str, "$.context.build")
    if "git_dirty" not in build or not (build["git_dirty"] is None or isinstance(build["git_dirty"], bool)):
        errors.append("$.context.build.git_dirty: expected true, false or null")
    libs = need(ctx, "libraries", dict, "$.context") or {}
    for k in ("fftw", "openblas", "cjson", "zlib"):
        need(libs, k, str, "$.context.libraries")
    machine = need(ctx, "machine", dict, "$.context") or {}
    need(machine, "cpu_model", str, "$.context.machine")
    need(machine, "cpu_cores", NUM, "$.context.machine")
    run = need(ctx, "run", dict, "$.context") or {}
    if need(run, "device", str, "$.context.run") not in ("cpu", "gpu"):
        errors.append("$.context.run.device: expected cpu or gpu")
    need(run, "threads", NUM, "$.context.run")
    need(ctx, "warnings", list, "$.context")

    suite = need(results, "suite", dict, "$") or {}
    for k in ("name", "file", "sha256"):
        need(suite, k, str, "$.suite")
    if len(suite.get("sha256", "")) != 64:
        errors.append("$.suite.sha256: expected 64 hex digits")
    seed = need(suite, "seed", int, "$.suite")
    if isinstance(seed, int) and not 0 <= seed <= 2**53 - 1:
        errors.append("$.suite.seed: expected an integer in [0, 2^53 - 1]")
    defs = need(suite, "metric_definitions", dict, "$.suite") or {}
    for mid, d in defs.items():
        for k in ("metric", "definition", "unit"):
            need(d, k, str, f"$.suite.metric_definitions.{mid}")
        need(d, "higher_is_better", bool, f"$.suite.metric_definitions.{mid}")
    need(suite, "definition", dict, "$.suite")

    datasets = need(results, "datasets", list, "$") or []
    for i, d in enumerate(datasets):
        p = f"$.datasets[{i}]"
        for k in ("id", "generator", "split", "data_sha256", "shape"):
            need(d, k, str, p)
        need(d, "params", dict, p)
        need(d, "items", list, p)
        need(d, "seed", int, p)

    cases = need(results, "cases", list, "$") or []
    keys = set()
    for i, c in enumerate(cases):
        p = f"$.cases[{i}]"
        key = need(c, "key", str, p)
        if key in keys:
            errors.append(f"{p}.key: duplicate {key}")
        keys.add(key)
        for k in ("dataset", "sampling", "method", "method_name", "sampler", "status"):
            need(c, k, str, p)
        need(c, "acceleration", NUM, p)
        items = need(c, "items", list, p) or []
        if c.get("status") != "ok":
            need(c, "error", str, p)
            continue
        for j, it in enumerate(items):
            q = f"{p}.items[{j}]"
            need(it, "id", str, q)
            need(it, "achieved_acceleration", NUM, q)
            m = need(it, "metrics", dict, q) or {}
            for mid in defs:
                if mid not in m:
                    errors.append(f"{q}.metrics.{mid}: missing")
            need(it, "time_s", list, q)
        agg = need(c, "metrics", dict, p) or {}
        for mid in defs:
            a = agg.get(mid)
            if not isinstance(a, dict):
                errors.append(f"{p}.metrics.{mid}: missing aggregate")
                continue
            for k in ("n", "mean", "std", "median", "min", "max"):
                if k not in a:
                    errors.append(f"{p}.metrics.{mid}.{k}: missing")
        t = need(c, "timing", dict, p) or {}
        for k in ("warmup", "repeats_per_item", "threads", "peak_rss_kb"):
            need(t, k, NUM, f"{p}.timing")
        need(t, "samples_s", list, f"{p}.timing")
        for k in ("run_s", "setup_s"):
            s = need(t, k, dict, f"{p}.timing") or {}
            for q in ("n", "median", "mean", "std", "min", "max", "q1", "q3"):
                if q not in s:
                    errors.append(f"{p}.timing.{k}.{q}: missing")
        if len(t.get("samples_s", [])) != t.get("repeats_per_item", 0) * len(items):
            errors.append(f"{p}.timing.samples_s: expected repeats_per_item x items samples")
    summ = need(results, "summary", dict, "$") or {}
    for k in ("cases_total", "cases_done", "cases_failed", "cases_filtered_out"):
        need(summ, k, NUM, "$.summary")
    if summ.get("cases_done") != len(cases):
        errors.append("$.summary.cases_done: differs from the number of cases")
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        results = json.load(f)
    errors = check(results)
    for e in errors:
        print(f"{sys.argv[1]}: {e}")
    if not errors:
        print(f"{sys.argv[1]}: valid mrbench results (schema v1, {len(results['cases'])} cases)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes the small results files (schema v1, results/README.md) that
tests/unit/test_report.c reads. Values are chosen by hand so that the
expected table entries can be checked by eye:

run_cine_a.json  suite "cine-small": methods zf and cs on the cine phantom
                 at R = 4 and 8, three items, psnr and nmse.
                 zf R=4 psnr 24, 25, 26 -> 25 (1);  cs R=4 psnr 27, 28, 29 -> 28 (1)
                 zf R=8 psnr 20, 21, 22 -> 21 (1);  cs R=8 psnr 23, 25, 27 -> 25 (2)
run_cine_b.json  suite "cine-other": methods zf (again) and cnn on the same data.
                 cnn R=4 psnr 30, 31, 32 -> 31 (1); cnn R=8 psnr 26, 26, 29 -> 27 (1.732)

Summaries use numpy (mean, std with ddof=1, linear percentiles), as mrbench does.
Run: /usr/bin/python3 tests/golden/report/make_report_golden.py tests/golden/report
"""
import json
import os
import sys

import numpy as np

ITEMS = ["cine-0000", "cine-0001", "cine-0002"]
DATA_SHA = "5d1c" + "0" * 60
METRIC_DEFS = {
    "psnr": {"metric": "psnr", "definition": "PSNR = 10 log10(R^2 / MSE) in dB, R = max(reference) (fastMRI)",
             "unit": "dB", "higher_is_better": True, "params": {"data_range": 0}},
    "nmse": {"metric": "nmse", "definition": "NMSE = ||ref - x||^2 / ||ref||^2 (fastMRI nmse)",
             "unit": "", "higher_is_better": False, "params": {}},
}


def summary(x):
    x = np.asarray(x, dtype=float)
    return {"n": int(len(x)), "n_nan": 0, "mean": float(x.mean()), "std": float(x.std(ddof=1)),
            "median": float(np.median(x)), "min": float(x.min()), "max": float(x.max()),
            "q1": float(np.percentile(x, 25)), "q3": float(np.percentile(x, 75)),
            "cv": float(x.std(ddof=1) / x.mean())}


def case(method, sampling, accel, psnr, nmse, times):
    items = []
    for k, item in enumerate(ITEMS):
        items.append({"id": item, "achieved_acceleration": accel, "metrics": {"psnr": psnr[k], "nmse": nmse[k]},
                      "time_s": times[2 * k:2 * k + 2], "setup_s": 0.001})
    return {
        "key": f"cine/{sampling}/{method}", "dataset": "cine", "sampling": sampling, "sampler": "cartesian-vd",
        "sampler_params": {"acceleration": accel}, "acceleration": accel, "method": method, "method_name": method,
        "method_params": {}, "items": items, "status": "ok",
        "metrics": {"psnr": summary(psnr), "nmse": summary(nmse)},
        "achieved_acceleration": summary([accel] * 3),
        "timing": {"warmup": 1, "repeats_per_item": 2, "threads": 1, "run_s": summary(times),
                   "setup_s": summary([0.001] * 3), "samples_s": times, "peak_rss_kb": 1000},
    }


def results(name, sha, cases):
    return {
        "schema_version": 1, "kind": "mrbench-results",
        "context": {
            "date": "2026-11-25T12:00:00Z", "started": "2026-11-25T12:00:00Z", "finished": "2026-11-25T12:00:05Z",
            "host": "golden",
            "build": {"mrbench_version": "0.1.0", "git_commit": "0" * 40, "git_dirty": False, "compiler": "GNU 12.2.0",
                      "build_type": "Release", "c_flags": "-O3", "cuda": False, "sanitizers": False},
            "libraries": {"fftw": "fftw-3.3.10", "openblas": "OpenBLAS 0.3.21", "cjson": "1.7.15", "zlib": "1.2.13",
                          "openmp": "201511"},
            "machine": {"cpu_model": "golden CPU", "cpu_cores": 2, "os": "Linux", "load_average": "0.00 0.00 0.00"},
            "run": {"device": "cpu", "threads": 1, "command": "hand-written", "environment": {}},
            "warnings": [],
        },
        "suite": {"name": name, "description": "hand-written results for the report tests", "file": name + ".json",
                  "sha256": sha, "seed": 1, "metric_definitions": METRIC_DEFS,
                  "report": {"metrics": ["psnr", "nmse"], "plot": "psnr"}, "definition": {}},
        "datasets": [{"id": "cine", "generator": "cine", "params": {}, "split": "all", "seed": 1, "data_sha256": DATA_SHA,
                      "shape": "64x64x8", "coils": 1, "items": ITEMS}],
        "cases": cases,
        "summary": {"cases_total": len(cases), "cases_done": len(cases), "cases_failed": 0, "cases_filtered_out": 0},
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    zf_t = [0.010, 0.011, 0.012, 0.010, 0.011, 0.012]
    cs_t = [1.00, 1.10, 1.20, 1.00, 1.10, 1.20]
    cnn_t = [0.050, 0.055, 0.060, 0.050, 0.055, 0.060]
    a = results("cine-small", "a" * 64, [
        case("zf", "r4", 4, [24.0, 25.0, 26.0], [0.1, 0.2, 0.3], zf_t),
        case("cs", "r4", 4, [27.0, 28.0, 29.0], [0.05, 0.06, 0.07], cs_t),
        case("zf", "r8", 8, [20.0, 21.0, 22.0], [0.3, 0.4, 0.5], zf_t),
        case("cs", "r8", 8, [23.0, 25.0, 27.0], [0.1, 0.2, 0.3], cs_t),
    ])
    b = results("cine-other", "b" * 64, [
        case("zf", "r4", 4, [24.0, 25.0, 26.0], [0.1, 0.2, 0.3], zf_t),
        case("cnn", "r4", 4, [30.0, 31.0, 32.0], [0.02, 0.03, 0.04], cnn_t),
        case("zf", "r8", 8, [20.0, 21.0, 22.0], [0.3, 0.4, 0.5], zf_t),
        case("cnn", "r8", 8, [26.0, 26.0, 29.0], [0.1, 0.1, 0.15], cnn_t),
    ])
    for name, r in (("run_cine_a.json", a), ("run_cine_b.json", b)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()

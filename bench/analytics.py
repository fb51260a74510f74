#!/usr/bin/env python3
"""make bench-analytics: the Analyze RPC against the original notebook's pandas + scikit-learn code,
on the same 1,000,000 unique profiles, in the same run.

Both sides start from data already in memory: audienced holds the profiles it ingested; pandas
holds the DataFrame that `pd.json_normalize` made of them (that load is timed separately). Each
side computes every distribution the notebook draws plus k-means (k=3, standardized age), R
times; medians are compared. The script also checks that both sides got the same numbers.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from audience_client import Client
from dataset import generate
from harness import ingest_file, peak_rss_mib, start_server, timed, write_jsonl

INTEREST_CATEGORIES = {  # ../shared/interest-categories.json, as the notebook has it
    "Sports": ["sports", "football", "basketball", "cricket", "tennis"],
    "Tech": ["tech", "ai", "gadgets", "programming", "blockchain"],
    "Movies": ["movies", "hollywood", "bollywood", "action", "drama"],
    "Finance": ["finance", "stock market", "investment", "banking", "crypto"],
}


def assign_cohort(interests):  # the notebook's function, verbatim
    if isinstance(interests, float) or interests is None:
        return "Other"
    interests = [i.lower().strip() for i in interests]
    for category, keywords in INTEREST_CATEGORIES.items():
        if any(interest in keywords for interest in interests):
            return category
    return "Other"


def notebook(df):
    """The notebook's computations (without drawing), plus the state, city and education counts
    that Analyze also returns."""
    r = {
        "countries": df["data.location.country"].value_counts(),
        "states": df["data.location.state"].value_counts(),
        "cities": df["data.location.city"].value_counts(),
        "genders": df["data.demographics.gender"].value_counts(),
        "education": df["data.demographics.education"].value_counts(),
    }
    ages = df["data.demographics.age"].dropna()
    r["histogram"] = np.histogram(ages, bins=20)
    r["interests"] = Counter(df["data.interests"].dropna().explode().dropna())
    r["categories"] = df["data.interests"].apply(assign_cohort).value_counts()
    features = df[["data.demographics.age"]].dropna()
    scaler = StandardScaler()
    scaled = scaler.fit_transform(features)
    kmeans = KMeans(n_clusters=3, random_state=42)
    kmeans.fit_predict(scaled)
    r["centroids"] = sorted(scaler.inverse_transform(kmeans.cluster_centers_)[:, 0])
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", type=int, default=1_000_000, help="unique profiles (default 1,000,000)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per side (default 7)")
    ap.add_argument("--bin-dir", default=".build/release", help="where audienced and audience are")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="aud-bench-", dir="/tmp")
    server = None
    try:
        print(f"generating {args.profiles:,} profiles ...", file=sys.stderr)
        records = generate(args.profiles)
        path = os.path.join(work, "people.jsonl")
        write_jsonl(records, path)

        server, sock = start_server(args.bin_dir, work)
        print("ingesting through `audience ingest` ...", file=sys.stderr)
        ingest_s = ingest_file(args.bin_dir, sock, path, args.profiles)

        print(f"Analyze x{args.runs} ...", file=sys.stderr)
        with Client(sock) as c:
            c.analyze()  # warm-up
            report, ours = timed(c.analyze, args.runs)
            usa_report, ours_usa = timed(lambda: c.analyze(country="USA"), args.runs)
        server_rss = peak_rss_mib(server.pid)

        print("pd.json_normalize ...", file=sys.stderr)
        t = time.perf_counter()
        df = pd.json_normalize(records)
        load_s = time.perf_counter() - t
        del records
        print(f"notebook x{args.runs} ...", file=sys.stderr)
        nb, theirs = timed(lambda: notebook(df), args.runs)
        nb_usa, theirs_usa = timed(lambda: notebook(df[df["data.location.country"] == "USA"]), args.runs)
        assert usa_report["total"] == nb_usa["countries"].sum()
        assert usa_report["interests"] == dict(nb_usa["interests"])
        assert [b["count"] for b in usa_report["age_histogram"]] == nb_usa["histogram"][0].tolist()

        # Same numbers on both sides, or the timing means nothing.
        assert report["total"] == len(df)
        assert report["countries"] == nb["countries"].to_dict()
        assert report["genders"] == nb["genders"].to_dict()
        assert report["education"] == nb["education"].to_dict()
        assert report["interests"] == dict(nb["interests"])
        assert {k: v for k, v in report["categories"].items() if v} == nb["categories"].to_dict()
        assert [b["count"] for b in report["age_histogram"]] == nb["histogram"][0].tolist()
        assert all(abs(a - b) <= 0.5 for a, b in zip(report["kmeans"]["centroids"], nb["centroids"]))

        m_ours, m_theirs = statistics.median(ours), statistics.median(theirs)
        u_ours, u_theirs = statistics.median(ours_usa), statistics.median(theirs_usa)
        figures = {
            "profiles": args.profiles, "runs": args.runs,
            "analyze_ms": {"median": m_ours * 1e3, "min": min(ours) * 1e3},
            "pandas_ms": {"median": m_theirs * 1e3, "min": min(theirs) * 1e3},
            "pandas_load_ms": load_s * 1e3,
            "ratio": m_theirs / m_ours,
            "segment_usa": {"profiles": usa_report["total"], "analyze_ms": u_ours * 1e3, "pandas_ms": u_theirs * 1e3,
                            "ratio": u_theirs / u_ours},
            "ratio_with_load": (m_theirs + load_s) / m_ours,
            "ingest_records_per_second": args.profiles / ingest_s,
            "server_peak_rss_mib": server_rss,
            "versions": {"python": platform.python_version(), "pandas": pd.__version__, "numpy": np.__version__,
                         "scikit-learn": sklearn.__version__},
            "cpus": os.cpu_count(),
        }
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            v = figures["versions"]
            print(f"\n{args.profiles:,} unique profiles, {args.runs} runs each, {os.cpu_count()} CPUs; "
                  f"pandas {v['pandas']}, numpy {v['numpy']}, scikit-learn {v['scikit-learn']}\n")
            print("| | median | min | vs Analyze |")
            print("|---|---:|---:|---:|")
            print(f"| Analyze RPC (every distribution + k-means, over the socket) | {m_ours*1e3:.1f} ms | {min(ours)*1e3:.1f} ms | 1× |")
            print(f"| pandas + scikit-learn, DataFrame in memory | {m_theirs*1e3:.0f} ms | {min(theirs)*1e3:.0f} ms | {m_theirs/m_ours:.1f}× slower |")
            print(f"| pandas + scikit-learn, including pd.json_normalize | {(m_theirs+load_s)*1e3:.0f} ms | | {(m_theirs+load_s)/m_ours:.1f}× slower |")
            print(f"| Analyze RPC, segment country=USA ({usa_report['total']:,} profiles) | {u_ours*1e3:.1f} ms | {min(ours_usa)*1e3:.1f} ms | 1× |")
            print(f"| pandas + scikit-learn, same segment (boolean mask, then the same code) | {u_theirs*1e3:.0f} ms | {min(theirs_usa)*1e3:.0f} ms | {u_theirs/u_ours:.1f}× slower |")
            print(f"\nserver peak RSS {server_rss:.0f} MiB after ingesting (CLI ingest ran at {args.profiles/ingest_s:,.0f} records/s)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

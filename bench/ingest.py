#!/usr/bin/env python3
"""make bench-ingest: 1,000,000 generated records into the embedded store with durable
acknowledgements, (a) through the Swift client library's binary ingest stream
(`audience-bench ingest`) and (b) through `audience ingest` from a CSV file, printing records/s
and the server's peak memory. The same run loads the same rows into PostgreSQL
(`INSERT ... ON CONFLICT (cookie) DO UPDATE` in batches of 1000, one transaction each, fsync on)
and SQLite (the same upsert, WAL, synchronous=FULL), as durable as audienced's acknowledgements.

audienced does more per record than the peers: it normalizes and validates every field, resolves
identities (cookies and emails into people, merges), keeps cohorts and the segment index, and
keeps every raw record; the peers upsert one row per cookie. The rows come from `audience gen`
(skewed countries and interests, repeated emails with new cookies, updates of known cookies).
"""

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from harness import peak_rss_mib, start_server
from postgres import PostgresCluster

COLUMNS = ["cookie", "email", "phone_number", "created_at", "state", "country", "city", "age", "gender", "income",
           "education", "interests"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def gen(bin_dir, n, seed, fmt, path):
    with open(path, "w") as f:
        subprocess.run([os.path.join(bin_dir, "audience"), "gen", "--count", str(n), "--seed", str(seed), "--format", fmt],
                       stdout=f, check=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(server):
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=120)


def audienced_binary(bin_dir, work, jsonl, window):
    d = tempfile.mkdtemp(dir=work)
    server, sock = start_server(bin_dir, d)
    out = subprocess.run([os.path.join(bin_dir, "audience-bench"), "ingest", "--socket", sock, "--file", jsonl,
                          "--window", str(window)], capture_output=True, text=True, check=True)
    fig = json.loads(out.stdout)
    fig["peak_rss_mib"] = peak_rss_mib(server.pid)
    fig["server_cpu_s"] = cpu_seconds(server.pid)
    stop(server)
    shutil.rmtree(d)
    return fig


def audienced_cli(bin_dir, work, path):
    d = tempfile.mkdtemp(dir=work)
    server, sock = start_server(bin_dir, d)
    t = time.perf_counter()
    out = subprocess.run([os.path.join(bin_dir, "audience"), "--socket", sock, "--json", "ingest", path],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    summary = json.loads(out.stdout)
    fig = {"records": summary["accepted"] + summary["rejected"], "accepted": summary["accepted"], "seconds": seconds,
           "peak_rss_mib": peak_rss_mib(server.pid), "server_cpu_s": cpu_seconds(server.pid)}
    fig["records_per_second"] = fig["records"] / seconds
    stop(server)
    shutil.rmtree(d)
    return fig


def rows(path):
    """The CSV's rows as tuples for the peers (interests as a list)."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.append((r["cookie"], r["email"] or None, r["phone_number"] or None, r["created_at"] or None,
                        r["state"] or None, r["country"] or None, r["city"] or None,
                        int(r["age"]) if r["age"] else None, r["gender"] or None, r["income"] or None,
                        r["education"] or None, [i for i in r["interests"].split(";") if i]))
    return out


UPSERT_SET = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])


def postgres(work, data, batch):
    import psycopg
    d = tempfile.mkdtemp(dir=work)
    os.chmod(d, 0o755)
    pg = PostgresCluster(d, durable=True)
    try:
        with psycopg.connect(host=pg.sock, user="bench", dbname="postgres") as c:
            c.execute("CREATE TABLE users (cookie text PRIMARY KEY, email text, phone_number text, created_at text, "
                      "state text, country text, city text, age int, gender text, income text, education text, "
                      "interests text[])")
            c.execute("CREATE INDEX ON users (email)")
            c.commit()
            sql = (f"INSERT INTO users ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
                   f"ON CONFLICT (cookie) DO UPDATE SET {UPSERT_SET}")
            t = time.perf_counter()
            with c.cursor() as cur:
                for i in range(0, len(data), batch):
                    chunk = data[i:i + batch]
                    # A batch may name a cookie twice; ON CONFLICT cannot touch a row twice in one statement.
                    cur.executemany(sql, chunk)
                    c.commit()
            seconds = time.perf_counter() - t
            n = c.execute("SELECT count(*) FROM users").fetchone()[0]
        return {"version": pg.version, "seconds": seconds, "records_per_second": len(data) / seconds, "rows": n}
    finally:
        pg.stop()
        shutil.rmtree(d, ignore_errors=True)


def sqlite(work, data, batch):
    path = os.path.join(work, "ingest.sqlite")
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE users (cookie TEXT PRIMARY KEY, email TEXT, phone_number TEXT, created_at TEXT, "
                     "state TEXT, country TEXT, city TEXT, age INT, gender TEXT, income TEXT, education TEXT, "
                     "interests TEXT); CREATE INDEX users_email ON users (email);")
    sql = (f"INSERT INTO users ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           f"ON CONFLICT (cookie) DO UPDATE SET {UPSERT_SET}")
    t = time.perf_counter()
    for i in range(0, len(data), batch):
        db.executemany(sql, [r[:-1] + (json.dumps(r[-1]),) for r in data[i:i + batch]])
        db.commit()
    seconds = time.perf_counter() - t
    n = db.execute("SELECT count(*) FROM users").fetchone()[0]
    db.close()
    return {"version": sqlite3.sqlite_version, "seconds": seconds, "records_per_second": len(data) / seconds, "rows": n}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", default=".build/release")
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--window", type=int, default=0, help="batches in flight (0: the server's default, 32)")
    p.add_argument("--no-peers", action="store_true", help="skip PostgreSQL and SQLite")
    p.add_argument("--doc", default="docs/BENCHMARKS.md",
                   help="where the full run's table is written, between its markers (every full run: "
                        "1,000,000 records with the peers); '' not to write it")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="aud-bench-ingest-", dir="/tmp")
    os.chmod(work, 0o755)  # the PostgreSQL cluster runs as the postgres user when we are root
    try:
        jsonl, csv_path = os.path.join(work, "people.jsonl"), os.path.join(work, "people.csv")
        log(f"generating {args.count:,} records (seed {args.seed})")
        gen(args.bin_dir, args.count, args.seed, "jsonl", jsonl)
        gen(args.bin_dir, args.count, args.seed, "csv", csv_path)
        fig = {"count": args.count, "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
        # Before each measurement the page cache's dirty pages (the generated files, the last
        # run's database) are written out, so that no run pays for the one before it.
        os.sync()
        log("audienced: client library binary stream")
        fig["binary"] = audienced_binary(args.bin_dir, work, jsonl, args.window)
        os.sync()
        log("audienced: audience ingest people.csv")
        fig["cli_csv"] = audienced_cli(args.bin_dir, work, csv_path)
        if not args.no_peers:
            data = rows(csv_path)
            os.sync()
            log("PostgreSQL: INSERT ... ON CONFLICT, batches of %d" % args.batch)
            fig["postgres"] = postgres(work, data, args.batch)
            os.sync()
            log("SQLite: INSERT ... ON CONFLICT, batches of %d" % args.batch)
            fig["sqlite"] = sqlite(work, data, args.batch)
        print(json.dumps(fig, indent=2))
        lines = report(fig)
        if args.doc and args.count == 1_000_000 and not args.no_peers:
            write_doc(args.doc, lines)
        elif args.doc:
            log(f"(not written to {args.doc}: only a full run, 1,000,000 records with the peers, is)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(fig):
    """Logs the table; returns its lines."""
    lines = [f"| {fig['count']:,} records, durable acknowledgements | records/s | seconds | server peak RSS | server CPU |",
             "|---|---:|---:|---:|---:|"]
    for key, name in (("binary", "audienced, client library binary stream"), ("cli_csv", "audienced, `audience ingest` CSV")):
        f = fig[key]
        lines.append(f"| {name} | {f['records_per_second']:,.0f} | {f['seconds']:.1f} | {f['peak_rss_mib']:,.0f} MiB | "
                     f"{f['server_cpu_s']:.1f} s |")
    for key, name in (("postgres", "PostgreSQL upsert, batches of 1000"), ("sqlite", "SQLite upsert, batches of 1000")):
        if key in fig:
            f = fig[key]
            lines.append(f"| {name} ({f['version']}) | {f['records_per_second']:,.0f} | {f['seconds']:.1f} | | |")
    log("")
    for line in lines:
        log(line)
    return lines


BEGIN = "<!-- bench-ingest: the last full run, written by bench/ingest.py -->"
END = "<!-- bench-ingest: end -->"


def write_doc(path, lines):
    """Replaces the table between the markers in `path` with this run's, dated, with the commit
    and the command; the sessions' notes around it are kept."""
    try:
        text = open(path).read()
    except OSError as e:
        log(f"(not written to {path}: {e})")
        return
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        log(f"(not written to {path}: its markers are missing)")
        return
    try:
        commit = subprocess.run(["git", "describe", "--always"], capture_output=True, text=True,
                                check=True).stdout.strip()
        # Changed files other than this table (which the last run rewrote) make the code "dirty".
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                 text=True, check=True).stdout.splitlines()
        if any(not line.endswith(os.path.basename(path)) for line in changed):
            commit += "-dirty"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = [BEGIN, "", f"Last full run: {when}, commit {commit}, {platform.machine()} with {os.cpu_count()} cores "
             "(`make bench-ingest`):", ""] + lines + ["", ""]
    open(path, "w").write(text[:start] + "\n".join(block) + text[end:])
    log(f"(written to {path})")


if __name__ == "__main__":
    main()

"""A throwaway PostgreSQL cluster from Debian's postgresql, shared by the benchmarks."""

import glob
import os
import pwd
import subprocess
import sys


class PostgresCluster:
    """A throwaway cluster from Debian's postgresql, on a Unix socket in the work directory."""

    def __init__(self, work, durable=False):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            sys.exit("PostgreSQL is not installed (make bench-query installs Debian's postgresql)")
        self.bin = bins[-1]
        self.dir = os.path.join(work, "pg")
        self.sock = work
        self.run_as = []
        if os.getuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            pw = pwd.getpwnam("postgres")
            os.chown(work, pw.pw_uid, pw.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.sh("initdb", "-D", self.dir, "-A", "trust", "-U", "bench", "--no-sync")
        opts = f"-k {self.sock} -c listen_addresses='' -c shared_buffers=2GB -c max_wal_size=8GB"
        if not durable:  # queries only: loading speed and crash safety do not matter
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.sh("pg_ctl", "-D", self.dir, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start")
        self.version = subprocess.run([os.path.join(self.bin, "postgres"), "--version"], capture_output=True,
                                      text=True).stdout.strip()

    def sh(self, tool, *args):
        subprocess.run(self.run_as + [os.path.join(self.bin, tool), *args], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        self.sh("pg_ctl", "-D", self.dir, "-m", "immediate", "stop")

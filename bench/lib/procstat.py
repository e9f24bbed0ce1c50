#!/usr/bin/python3
"""CPU and memory snapshot for bench/run (Linux /proc only, no packages).

    procstat.py POSTMASTER_PID [PID ...]

prints one JSON object:
  machine_busy_s  busy CPU time of the whole machine since boot (user+nice+system+irq+softirq)
  postgres_s      CPU of the cluster: postmaster incl. reaped children + live children
  pids            {pid: {cpu_s: utime+stime, rss_kib: VmRSS, hwm_kib: VmHWM}}
"""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # after "pid (comm) ": state ppid ... utime(11) stime(12) cutime(13) cstime(14)
    return s[s.rindex(")") + 2:].split()


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    pm = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    pids = [int(p) for p in sys.argv[2:]]
    with open("/proc/stat") as f:
        c = [int(x) for x in f.readline().split()[1:9]]
    machine = (c[0] + c[1] + c[2] + c[5] + c[6]) / TICK
    pg = 0
    if pm:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                f = stat_fields(d)
            except OSError:
                continue
            if int(d) == pm:
                pg += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
            elif int(f[1]) == pm:
                pg += int(f[11]) + int(f[12])
    out = {"machine_busy_s": round(machine, 2), "postgres_s": round(pg / TICK, 2), "pids": {}}
    for p in pids:
        try:
            f = stat_fields(p)
        except OSError:
            continue
        out["pids"][str(p)] = {
            "cpu_s": round((int(f[11]) + int(f[12])) / TICK, 2),
            "rss_kib": status_kib(p, "VmRSS"),
            "hwm_kib": status_kib(p, "VmHWM"),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

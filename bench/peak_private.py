"""Follows a process (bench/train.sh: the training's backend) and prints the peak of its
private resident memory (RssAnon, in kB) once it exits. VmHWM, the kernel's own peak, also
counts the shared buffers the backend touches, the database's cache: writing a 90 MB model
into it maps up to shared_buffers of it, which is not memory the training holds.

  python peak_private.py PID   -> peak RssAnon in kB, sampled every 2 ms
"""
import sys
import time


def rss_anon(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("RssAnon:")), None)
    except OSError:
        return None


def main(pid):
    peak = 0
    while (kb := rss_anon(pid)) is not None:
        peak = max(peak, kb)
        time.sleep(0.002)
    print(peak)


if __name__ == "__main__":
    main(int(sys.argv[1]))

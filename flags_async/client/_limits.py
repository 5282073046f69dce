"""Process limits a big run needs: enough file descriptors for its sockets at once."""

from __future__ import annotations

#: Descriptors beyond the sockets: the interpreter, the files being written, the pipes.
SPARE_DESCRIPTORS = 64


def fit_fd_limit(wanted: int) -> tuple[int, str | None]:
    """Make room for `wanted` sockets at once: raise the soft open-file limit, within the hard
    limit, if needed. Returns the concurrency that fits, and a sentence saying what changed
    (or None if nothing had to): the concurrency is lower than `wanted` only if the hard
    limit is, and then the sentence says how to raise it.
    """
    try:
        import resource
    except ImportError:  # not on Windows, which has no such soft limit
        return wanted, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_DESCRIPTORS
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted, None
    new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    if new == needed:
        return wanted, f"Raised the open-file limit from {soft} to {new} for {wanted} requests."
    fits = max(1, new - SPARE_DESCRIPTORS)
    return fits, (f"The open-file limit is {new} (its hard limit), enough for {fits} "
                  f"request{'' if fits == 1 else 's'} at once, not {wanted}: running with "
                  f"-m {fits}. For more, raise it first, "
                  f"for example with `ulimit -n {needed}`.")

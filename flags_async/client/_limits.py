"""Process limits a big run needs: enough file descriptors for `max_req` sockets at once."""

from __future__ import annotations

#: Descriptors beyond the sockets: the interpreter, the files being written, the pipes.
SPARE_DESCRIPTORS = 64


def ensure_fd_limit(max_req: int) -> str | None:
    """Raise the soft open-file limit, within the hard limit, so `max_req` sockets fit.

    Returns a sentence saying what changed (for `--verbose`), or None if nothing had to.
    """
    try:
        import resource
    except ImportError:  # not on Windows, which has no such soft limit
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max_req + SPARE_DESCRIPTORS
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if new <= soft:
        return (f"The open-file limit is {soft} (hard limit {hard}); "
                f"-m {max_req} may run out of descriptors.")
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return f"Raised the open-file limit from {soft} to {new} for -m {max_req}."

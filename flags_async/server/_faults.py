"""What the bundled server can be told to do wrong: delays and faults, and the book's presets.

Apart from the app (`_app.py`) so that a client can describe a server it will start (the bench,
`ChildServer`) without importing aiohttp.web.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

LIMIT_HEADERS = ("none", "retry-after", "ratelimit")


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour applied to requests. Every request waits `delay`, then at most one fault
    is drawn by its rate (rates are exclusive, so they add up to at most 1)."""

    delay: tuple[float, float] | None = None
    error_rate: float = 0.0  # 418 I'm a teapot, as the book's slow_server
    throttle_rate: float = 0.0  # 429 with Retry-After
    garbage_rate: float = 0.0  # 200 with an HTML page labelled image/gif
    truncate_rate: float = 0.0  # half the body promised by Content-Length, then hang up
    reset_rate: float = 0.0  # reset the connection (TCP RST) without answering
    trickle: float | None = None  # send every body at this many bytes per second
    rate_limit: float | None = None  # requests a second per client address; 429 beyond
    burst: int = 1  # requests a client may make at once before the limit applies
    limit_headers: str = "none"  # what a 429 says: "none", "retry-after" or "ratelimit"

    def __post_init__(self) -> None:
        if self.delay is not None:
            low, high = self.delay
            if not 0 <= low <= high < math.inf:
                raise ValueError("delay needs 0 <= MIN <= MAX, in seconds")
        rates = self._rates()
        if not all(0 <= rate <= 1 for _, rate in rates):
            raise ValueError("each fault rate must be between 0 and 1")
        if sum(rate for _, rate in rates) > 1:
            raise ValueError("fault rates add up to more than 1")
        if self.trickle is not None and self.trickle <= 0:
            raise ValueError("trickle needs a positive number of bytes per second")
        if self.rate_limit is not None and not 0 < self.rate_limit < math.inf:
            raise ValueError("the rate limit needs a positive number of requests a second")
        if self.burst < 1:
            raise ValueError("the burst needs at least 1 request")
        if self.limit_headers not in LIMIT_HEADERS:
            raise ValueError(f"the limit's headers are one of {', '.join(LIMIT_HEADERS)}")

    def as_options(self) -> list[str]:
        """These faults as `flags-async serve` options, for a server in another process."""
        options = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                values = value if isinstance(value, tuple) else (value,)
                options += [f"--{field.name.replace('_', '-')}", *map(str, values)]
        return options

    def _rates(self) -> list[tuple[str, float]]:
        return [("error", self.error_rate), ("throttle", self.throttle_rate),
                ("garbage", self.garbage_rate), ("truncate", self.truncate_rate),
                ("reset", self.reset_rate)]

    def pick(self, draw: float) -> str | None:
        """The fault for a request, given a uniform random `draw` in [0, 1)."""
        for name, rate in self._rates():
            if draw < rate:
                return name
            draw -= rate
        return None


@dataclass(frozen=True, slots=True)
class Preset:
    port: int
    faults: Faults


PRESETS = {
    "local": Preset(8000, Faults()),
    "delay": Preset(8001, Faults(delay=(0.5, 5.0))),
    "error": Preset(8002, Faults(delay=(0.5, 5.0), error_rate=0.25)),
    "chaos": Preset(8003, Faults(delay=(0.0, 0.2), error_rate=0.05, throttle_rate=0.1,
                                 garbage_rate=0.05, truncate_rate=0.1, reset_rate=0.1)),
}

#: A server that answers at once and never fails.
NO_FAULTS = Faults()

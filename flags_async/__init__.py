"""flags-async: download flag images concurrently, and see what async buys.

The public API is small: pick codes, describe the run, download.

    >>> from flags_async import Options, download, select_codes
    >>> report = download(select_codes(["BR", "IN"]), Options(base_url=url))
"""

__version__ = "0.1.0"

from ._api import Interrupted, download, strategy
from ._codes import CodeError, country_codes, select_codes
from ._models import Mode, Options, Report, Result, ServerError, Status, TransportName
from ._trace import Trace

__all__ = [
    "CodeError",
    "Interrupted",
    "Mode",
    "Options",
    "Report",
    "Result",
    "ServerError",
    "Status",
    "Trace",
    "TransportName",
    "__version__",
    "country_codes",
    "download",
    "select_codes",
    "strategy",
]

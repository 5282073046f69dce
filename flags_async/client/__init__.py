"""The client side: the three download strategies (`_sequential`, `_threads`, `_async`), the
fetch rules they share (`_fetch`, `_retry`), the HTTP client and its transports (`_http`,
`_aiohttp`), where to download from (`_server_url`), and the checks made outside a run
(`_probes`)."""

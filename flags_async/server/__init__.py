"""The bundled flag server: the aiohttp app and its faults (`_app`), what it serves
(`_catalogue`, `_flagart`), running it (`_serve`), and running it as a child (`_embedded`)."""

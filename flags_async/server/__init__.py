"""The bundled flag server: the aiohttp app (`_app`) and its faults (`_faults`), what it serves
(`_catalogue`, `_flagart`, `_drawing_cache`), running it (`_serve`), and running it as a child
of the client (`_embedded`, and `_child`, the child's side)."""

"""The bundled flag server: the aiohttp app (`_app`) and its faults (`_faults`), the files it
serves (`_catalogue`), running it (`_serve`), and running it as a child of the client
(`_embedded`, and `_child`, the child's side)."""

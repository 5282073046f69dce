"""The bundled flag server: the aiohttp app (`_app`) and its faults (`_faults`), the files it
serves (`_catalogue`), running it (`_serve`), and running it for one command, in a thread or in
a child process (`_embedded`)."""

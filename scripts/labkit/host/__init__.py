"""The host commands behind the Makefile. They run on the student's own computer (Linux, macOS, Windows):
the standard library of Python 3.9 and nothing else (tests/unit checks the imports, vermin the version).
cli is the front door; the other modules are the settings, the engine, the checks and the commands."""

"""The ``simlab`` command line. Each subcommand lives in its own module and registers itself in ``main``."""

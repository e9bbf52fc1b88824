"""The ``airkube`` command line (also a kubectl plugin as ``kubectl airkube``)."""

"""``python -m rfm.cli``: the ``rfm`` command."""

from rfm.cli import entry

entry()

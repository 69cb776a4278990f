"""Subcommands of ``hub`` that live in their own module.

Each module here defines ``NAME``, ``HELP``, ``configure(parser)`` (its arguments) and
``run(settings, args) -> int`` (its exit code); ``hub.runtime.cli`` lists the modules in
``COMMAND_MODULES`` and imports each lazily, so a role's dependencies load only when it runs.
"""

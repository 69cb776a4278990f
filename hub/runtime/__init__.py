"""Runtime: the processes — the ``hub`` command (``cli``), the all-in-one supervisor (``up``)
and the broker it may spawn (``broker``). The only room that may import everything: it builds
the settings at the edge and hands them down.
"""

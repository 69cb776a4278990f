"""Seeded physiological generators (pure): time and a seed in, plausible values out."""

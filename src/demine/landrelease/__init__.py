"""Land release accounting: products subtract from hazards, and the area identity always holds.

cancelled + reduced + cleared + remaining = original area, for every hazard, at every time.
"""

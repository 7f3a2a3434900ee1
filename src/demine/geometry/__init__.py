"""Geometry on the ellipsoid: areas in m², polygon validity, reading user geometry into WGS 84."""

"""Figures and reports drawn from the register: the programme summary first."""

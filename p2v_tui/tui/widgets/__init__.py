"""Reusable urwid widgets for the wizard screens.

Each widget renders at 80x24 and on a serial console: keyboard only, VT100
colours or none, and an ASCII fallback chosen once by ``theme``.
"""

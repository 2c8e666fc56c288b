"""The urwid wizard: screens compose the widgets in ``widgets``."""

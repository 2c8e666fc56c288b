"""The wizard's screens, one module each (thin: widgets + controller calls)."""

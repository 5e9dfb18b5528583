"""The desktop window (PySide6). Only this package imports Qt; it displays and calls the core."""

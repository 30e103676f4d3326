"""One adapter per Cat version; the only code that touches `cat`."""

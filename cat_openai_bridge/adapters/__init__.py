"""One adapter per Cat version; the only code that touches `cat`.

Either Cat imports every module of the plugin: imports of `cat` stay inside
functions, or under a check of the running version.
"""

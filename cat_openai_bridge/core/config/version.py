"""The plugin's own version, kept equal to plugin.json's (a unit test checks)."""

PLUGIN_VERSION = "0.1.0"

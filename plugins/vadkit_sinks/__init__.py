"""First-party event sinks of ``vadkit serve``: a JSON-lines file, a webhook and MQTT.
Registered through registry.toml (kind ``sink``) by the built-in plugin, like every
first-party component; a third party adds its own through the same hook (docs/plugins.md)."""

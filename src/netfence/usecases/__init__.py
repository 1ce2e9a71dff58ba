"""The use cases: every action of the CLI and the console, written once over the ports.

Each module holds the use cases of one subject (namespaces, attachments, templates,
connectivity, events, reconciling) and returns result objects; the entry points only parse
input, call one use case and render its result. Nothing here imports a client library.
"""

"""The command line: an outer shell over the client, app and worker."""

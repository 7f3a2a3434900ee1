"""Users, roles, passwords, sessions and API tokens: the library the server and the CLI share."""

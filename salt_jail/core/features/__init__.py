"""One module per capability: read the current state, plan the change (a diff), apply it."""

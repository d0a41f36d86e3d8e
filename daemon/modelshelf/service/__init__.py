"""Running modelshelf: logging now; the daemon's lifecycle arrives with the service issue."""

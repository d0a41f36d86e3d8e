"""Running modelshelf as a service: the daemon (wiring, lifecycle), its import pipeline, reloads, the
status socket and its methods, sd_notify, the scheduler, logging and the systemd unit."""

"""Documents received from the trust space (IHE XDM archives): from the mail
to the plan. ``convention``: what the header block says; the archive itself
is read by ``esp_coord.xdm``."""

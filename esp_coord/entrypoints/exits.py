"""The exit statuses every ``esp-coord`` command shares."""

# Each command's help adds its own 1 and 3.
EXIT_UNUSABLE = 2  # configuration, key file or database missing, unreadable or malformed
EXIT_KEY_MISMATCH = 4  # the key file is not the one that wrote the database
EXIT_INTERNAL = 70  # an unexpected error (EX_SOFTWARE): a bug to report
EXIT_STATUS = (
    "Exit status: 0 done; 1 the command's own failure (see its help); "
    f"{EXIT_UNUSABLE} configuration, key file or database missing, unreadable or malformed; "
    f"{EXIT_KEY_MISMATCH} the key file does not match the database (refused before anything "
    "was read or written: restore the right key file); "
    f"{EXIT_INTERNAL} unexpected internal error. Errors are one line on standard error.")

"""Many teams on one PostgreSQL database, served by any number of workers.

``teams`` reads the teams' configurations, ``leases`` is the lease table,
``balance`` decides which worker serves which team, ``worker`` runs them,
``status`` shows the platform. See docs/deployment.md.
"""

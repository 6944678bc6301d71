"""Proxmox Backup Server engine: the API client (token auth, TLS fingerprint pinning, the ``{"data": ...}``
envelope and PBS's plain-text errors), section-config reconciliation with digests, and UPID task polling."""
